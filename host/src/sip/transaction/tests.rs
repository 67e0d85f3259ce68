//! Tests across the four machines: status classes, and random event sequences that must never
//! panic nor break the termination and reliable-transport rules.

use super::*;
use crate::test_rng::XorShift;

#[test]
fn status_codes_outside_100_to_699_have_no_class() {
    assert_eq!(StatusClass::of(0), None);
    assert_eq!(StatusClass::of(99), None);
    assert_eq!(StatusClass::of(700), None);
    assert_eq!(StatusClass::of(100), Some(StatusClass::Provisional));
    assert_eq!(StatusClass::of(299), Some(StatusClass::Success));
    assert_eq!(StatusClass::of(699), Some(StatusClass::Failure));
}

#[derive(Debug, Clone, Copy)]
enum Event {
    Response(u16),
    SendResponse(u16),
    RetransmittedRequest,
    Ack,
    Fire(Timer),
    TransportError,
}

const TIMERS: [Timer; 12] = [
    Timer::A,
    Timer::B,
    Timer::D,
    Timer::E,
    Timer::F,
    Timer::G,
    Timer::H,
    Timer::I,
    Timer::J,
    Timer::K,
    Timer::L,
    Timer::M,
];

const STATUSES: [u16; 12] = [0, 99, 100, 180, 183, 200, 202, 302, 486, 699, 700, u16::MAX];

fn random_event(rng: &mut XorShift) -> Event {
    let status = STATUSES[rng.below(STATUSES.len())];
    match rng.below(6) {
        0 => Event::Response(status),
        1 => Event::SendResponse(status),
        2 => Event::RetransmittedRequest,
        3 => Event::Ack,
        4 => Event::Fire(TIMERS[rng.below(TIMERS.len())]),
        _ => Event::TransportError,
    }
}

/// The four machines behind one face, so one loop drives them all. Events a machine has no
/// entry point for (a response fed to a server) produce no actions.
enum Machine {
    InviteClient(ClientInvite<u64>),
    NonInviteClient(ClientNonInvite<u64>),
    InviteServer(ServerInvite<u64>),
    NonInviteServer(ServerNonInvite<u64>),
}

impl Machine {
    fn start(kind: usize, reliability: Reliability) -> (Machine, Vec<Action<u64>>) {
        let config = TimerConfig::default();
        match kind {
            0 => {
                let (machine, actions) = ClientInvite::start(0, reliability, config);
                (Machine::InviteClient(machine), actions)
            }
            1 => {
                let (machine, actions) = ClientNonInvite::start(0, reliability, config);
                (Machine::NonInviteClient(machine), actions)
            }
            2 => {
                let (machine, actions) = ServerInvite::new(0, reliability, config);
                (Machine::InviteServer(machine), actions)
            }
            _ => {
                let (machine, actions) = ServerNonInvite::new(0, reliability, config);
                (Machine::NonInviteServer(machine), actions)
            }
        }
    }

    fn feed(&mut self, event: Event, message: u64) -> Vec<Action<u64>> {
        match (self, event) {
            (Machine::InviteClient(machine), Event::Response(status)) => machine.on_response(status, message),
            (Machine::InviteClient(machine), Event::Fire(timer)) => machine.on_timer(timer),
            (Machine::InviteClient(machine), Event::TransportError) => machine.on_transport_error(),
            (Machine::NonInviteClient(machine), Event::Response(status)) => {
                machine.on_response(status, message)
            }
            (Machine::NonInviteClient(machine), Event::Fire(timer)) => machine.on_timer(timer),
            (Machine::NonInviteClient(machine), Event::TransportError) => machine.on_transport_error(),
            (Machine::InviteServer(machine), Event::SendResponse(status)) => {
                machine.send_response(status, message)
            }
            (Machine::InviteServer(machine), Event::RetransmittedRequest) => {
                machine.on_retransmitted_request()
            }
            (Machine::InviteServer(machine), Event::Ack) => machine.on_ack(message),
            (Machine::InviteServer(machine), Event::Fire(timer)) => machine.on_timer(timer),
            (Machine::InviteServer(machine), Event::TransportError) => machine.on_transport_error(),
            (Machine::NonInviteServer(machine), Event::SendResponse(status)) => {
                machine.send_response(status, message)
            }
            (Machine::NonInviteServer(machine), Event::RetransmittedRequest) => {
                machine.on_retransmitted_request()
            }
            (Machine::NonInviteServer(machine), Event::Fire(timer)) => machine.on_timer(timer),
            (Machine::NonInviteServer(machine), Event::TransportError) => machine.on_transport_error(),
            _ => Vec::new(),
        }
    }

    fn is_terminated(&self) -> bool {
        match self {
            Machine::InviteClient(machine) => machine.is_terminated(),
            Machine::NonInviteClient(machine) => machine.is_terminated(),
            Machine::InviteServer(machine) => machine.is_terminated(),
            Machine::NonInviteServer(machine) => machine.is_terminated(),
        }
    }
}

fn is_retransmission_or_linger_timer(timer: Timer) -> bool {
    matches!(timer, Timer::A | Timer::E | Timer::G | Timer::D | Timer::I | Timer::J | Timer::K)
}

#[test]
fn random_event_sequences_never_panic_and_terminate_once() {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    for round in 0..4000 {
        let kind = round % 4;
        let reliability = if round % 8 < 4 { Reliability::Unreliable } else { Reliability::Reliable };
        let (mut machine, _) = Machine::start(kind, reliability);
        let mut terminated = false;
        for step in 0..60u64 {
            let event = random_event(&mut rng);
            let actions = machine.feed(event, step + 1);
            let context = format!("round {round}, step {step}, {event:?} -> {actions:?}");
            if terminated {
                assert!(actions.is_empty(), "a terminated machine acted: {context}");
                continue;
            }
            if let Some(position) = actions.iter().position(|action| *action == Action::Terminated) {
                assert_eq!(position, actions.len() - 1, "Terminated must come last: {context}");
                terminated = true;
            }
            assert_eq!(machine.is_terminated(), terminated, "state disagrees with actions: {context}");
            if reliability == Reliability::Reliable {
                let timer_retransmits = matches!(event, Event::Fire(_))
                    && actions.iter().any(|action| matches!(action, Action::Transmit(_)));
                assert!(!timer_retransmits, "a reliable transport retransmitted: {context}");
                let wrong_timer = actions.iter().any(|action| {
                    matches!(action, Action::StartTimer(timer, _) if is_retransmission_or_linger_timer(*timer))
                });
                assert!(!wrong_timer, "a reliable transport started a zero timer: {context}");
            }
        }
    }
}
