//! The INVITE server transaction of RFC 3261 §17.2.1, with the Accepted state of RFC 6026 §7.1.
//!
//! Proceeding (the TU sends 1xx) → Completed (300–699: timer G retransmits, timer H waits for
//! the ACK) → Confirmed (ACK, timer I) → Terminated. A 2xx from the TU moves to Accepted
//! (timer L): the TU retransmits its 2xx itself (§13.3.1.4), the transaction absorbs INVITE
//! retransmissions and passes ACKs up.

use super::timers::RetransmitInterval;
use super::{Action, Reliability, StatusClass, Timer, TimerConfig};

/// The states of figure 7 of RFC 3261 plus Accepted from RFC 6026.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerInviteState {
    /// The INVITE was passed up; the TU may send provisional responses.
    Proceeding,
    /// A non-2xx final response was sent; retransmitting it until the ACK arrives.
    Completed,
    /// The ACK arrived; absorbing its retransmissions.
    Confirmed,
    /// A 2xx was sent; absorbing INVITE retransmissions, passing ACKs up (RFC 6026).
    Accepted,
    /// Over; the driver forgets the transaction.
    Terminated,
}

/// One INVITE server transaction, holding the last response `M` it sent.
#[derive(Debug, Clone)]
pub struct ServerInvite<M> {
    state: ServerInviteState,
    reliability: Reliability,
    config: TimerConfig,
    last_response: Option<M>,
    timer_g: RetransmitInterval,
}

impl<M: Clone> ServerInvite<M> {
    /// Creates the transaction in Proceeding for a new INVITE and returns the action that
    /// passes it up. The TU should answer 100 Trying at once (see the module docs).
    pub fn new(request: M, reliability: Reliability, config: TimerConfig) -> (Self, Vec<Action<M>>) {
        let transaction = ServerInvite {
            state: ServerInviteState::Proceeding,
            reliability,
            config,
            last_response: None,
            timer_g: RetransmitInterval::capped_at_t2(&config),
        };
        (transaction, vec![Action::PassUp(request)])
    }

    /// The current state.
    pub fn state(&self) -> ServerInviteState {
        self.state
    }

    /// True once the transaction has ended.
    pub fn is_terminated(&self) -> bool {
        self.state == ServerInviteState::Terminated
    }

    /// The TU sends a response with this status code.
    pub fn send_response(&mut self, status: u16, response: M) -> Vec<Action<M>> {
        let Some(class) = StatusClass::of(status) else {
            return Vec::new();
        };
        let mut actions = Vec::new();
        match (self.state, class) {
            (ServerInviteState::Proceeding, StatusClass::Provisional) => {
                self.transmit_and_remember(response, &mut actions);
            }
            (ServerInviteState::Proceeding, StatusClass::Success) => {
                self.transmit_and_remember(response, &mut actions);
                self.state = ServerInviteState::Accepted;
                actions.push(Action::StartTimer(Timer::L, self.config.transaction_timeout()));
            }
            (ServerInviteState::Proceeding, StatusClass::Failure) => {
                self.transmit_and_remember(response, &mut actions);
                self.state = ServerInviteState::Completed;
                if !self.reliability.is_reliable() {
                    actions.push(Action::StartTimer(Timer::G, self.timer_g.current()));
                }
                actions.push(Action::StartTimer(Timer::H, self.config.transaction_timeout()));
            }
            (ServerInviteState::Accepted, StatusClass::Success) => {
                actions.push(Action::Transmit(response));
            }
            _ => {}
        }
        actions
    }

    /// A retransmission of the INVITE arrived (§17.2.3 matched it to this transaction).
    pub fn on_retransmitted_request(&mut self) -> Vec<Action<M>> {
        match (self.state, &self.last_response) {
            (ServerInviteState::Proceeding | ServerInviteState::Completed, Some(last)) => {
                vec![Action::Transmit(last.clone())]
            }
            _ => Vec::new(),
        }
    }

    /// An ACK matched to this transaction arrived.
    pub fn on_ack(&mut self, ack: M) -> Vec<Action<M>> {
        let mut actions = Vec::new();
        match self.state {
            ServerInviteState::Completed => {
                if !self.reliability.is_reliable() {
                    actions.push(Action::CancelTimer(Timer::G));
                }
                actions.push(Action::CancelTimer(Timer::H));
                match self.config.linger(Timer::I, self.reliability) {
                    Some(timer_i) => {
                        self.state = ServerInviteState::Confirmed;
                        actions.push(Action::StartTimer(Timer::I, timer_i));
                    }
                    None => self.terminate(&mut actions),
                }
            }
            ServerInviteState::Accepted => actions.push(Action::PassUp(ack)),
            _ => {}
        }
        actions
    }

    /// A timer this transaction started has fired.
    pub fn on_timer(&mut self, timer: Timer) -> Vec<Action<M>> {
        let mut actions = Vec::new();
        match (self.state, timer) {
            (ServerInviteState::Completed, Timer::G) if !self.reliability.is_reliable() => {
                if let Some(last) = &self.last_response {
                    actions.push(Action::Transmit(last.clone()));
                    actions.push(Action::StartTimer(Timer::G, self.timer_g.double()));
                }
            }
            (ServerInviteState::Completed, Timer::H) => {
                actions.push(Action::Timeout);
                self.terminate(&mut actions);
            }
            (ServerInviteState::Confirmed, Timer::I) | (ServerInviteState::Accepted, Timer::L) => {
                self.terminate(&mut actions);
            }
            _ => {}
        }
        actions
    }

    /// The transport failed to send a response (§17.2.4). In Accepted the TU is told and the
    /// transaction stays, still absorbing INVITE retransmissions until timer L: the 2xx and its
    /// retransmissions are the TU's.
    pub fn on_transport_error(&mut self) -> Vec<Action<M>> {
        let mut actions = Vec::new();
        match self.state {
            ServerInviteState::Proceeding | ServerInviteState::Completed => {
                actions.push(Action::TransportError);
                self.terminate(&mut actions);
            }
            ServerInviteState::Accepted => actions.push(Action::TransportError),
            ServerInviteState::Confirmed | ServerInviteState::Terminated => {}
        }
        actions
    }

    fn transmit_and_remember(&mut self, response: M, actions: &mut Vec<Action<M>>) {
        actions.push(Action::Transmit(response.clone()));
        self.last_response = Some(response);
    }

    fn terminate(&mut self, actions: &mut Vec<Action<M>>) {
        self.state = ServerInviteState::Terminated;
        actions.push(Action::Terminated);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn unreliable() -> ServerInvite<&'static str> {
        ServerInvite::new("INVITE", Reliability::Unreliable, TimerConfig::default()).0
    }

    fn reliable() -> ServerInvite<&'static str> {
        ServerInvite::new("INVITE", Reliability::Reliable, TimerConfig::default()).0
    }

    #[test]
    fn new_invite_is_passed_up() {
        let (transaction, actions) =
            ServerInvite::new("INVITE", Reliability::Unreliable, TimerConfig::default());
        assert_eq!(actions, [Action::PassUp("INVITE")]);
        assert_eq!(transaction.state(), ServerInviteState::Proceeding);
    }

    #[test]
    fn retransmitted_invite_is_absorbed_and_resends_last_provisional() {
        let mut transaction = unreliable();
        assert!(transaction.on_retransmitted_request().is_empty());
        assert_eq!(transaction.send_response(100, "100"), [Action::Transmit("100")]);
        assert_eq!(transaction.send_response(180, "180"), [Action::Transmit("180")]);
        assert_eq!(transaction.on_retransmitted_request(), [Action::Transmit("180")]);
        assert_eq!(transaction.state(), ServerInviteState::Proceeding);
    }

    #[test]
    fn final_failure_sends_the_response_and_starts_timers_g_and_h() {
        let mut transaction = unreliable();
        assert_eq!(
            transaction.send_response(486, "486"),
            [
                Action::Transmit("486"),
                Action::StartTimer(Timer::G, Duration::from_millis(500)),
                Action::StartTimer(Timer::H, Duration::from_secs(32)),
            ]
        );
        assert_eq!(transaction.state(), ServerInviteState::Completed);
        assert_eq!(transaction.on_retransmitted_request(), [Action::Transmit("486")]);
    }

    #[test]
    fn timer_g_retransmits_final_response_until_ack() {
        let mut transaction = unreliable();
        transaction.send_response(404, "404");
        let mut intervals = Vec::new();
        for _ in 0..4 {
            match transaction.on_timer(Timer::G).as_slice() {
                [Action::Transmit("404"), Action::StartTimer(Timer::G, interval)] => {
                    intervals.push(interval.as_millis())
                }
                other => panic!("expected a retransmission and a timer G restart, got {other:?}"),
            }
        }
        assert_eq!(intervals, [1000, 2000, 4000, 4000]);
        transaction.on_ack("ACK");
        assert!(transaction.on_timer(Timer::G).is_empty());
    }

    #[test]
    fn timer_h_expiry_reports_timeout() {
        let mut transaction = unreliable();
        transaction.send_response(500, "500");
        assert_eq!(transaction.on_timer(Timer::H), [Action::Timeout, Action::Terminated]);
        assert!(transaction.is_terminated());
    }

    #[test]
    fn ack_moves_server_invite_to_confirmed() {
        let mut transaction = unreliable();
        transaction.send_response(603, "603");
        assert_eq!(
            transaction.on_ack("ACK"),
            [
                Action::CancelTimer(Timer::G),
                Action::CancelTimer(Timer::H),
                Action::StartTimer(Timer::I, Duration::from_secs(5)),
            ]
        );
        assert_eq!(transaction.state(), ServerInviteState::Confirmed);
        assert!(transaction.on_ack("ACK again").is_empty());
        assert!(transaction.on_retransmitted_request().is_empty());
        assert_eq!(transaction.on_timer(Timer::I), [Action::Terminated]);
    }

    #[test]
    fn success_moves_to_accepted_where_invite_retransmissions_are_absorbed() {
        let mut transaction = unreliable();
        transaction.send_response(180, "180");
        assert_eq!(
            transaction.send_response(200, "200"),
            [Action::Transmit("200"), Action::StartTimer(Timer::L, Duration::from_secs(32))]
        );
        assert_eq!(transaction.state(), ServerInviteState::Accepted);
        assert!(transaction.on_retransmitted_request().is_empty());
        assert!(transaction.on_timer(Timer::G).is_empty());
    }

    #[test]
    fn tu_2xx_retransmissions_and_acks_pass_through_accepted() {
        let mut transaction = unreliable();
        transaction.send_response(200, "200");
        assert_eq!(transaction.send_response(200, "200 again"), [Action::Transmit("200 again")]);
        assert!(transaction.send_response(486, "486").is_empty());
        assert_eq!(transaction.on_ack("ACK"), [Action::PassUp("ACK")]);
        assert_eq!(transaction.on_timer(Timer::L), [Action::Terminated]);
    }

    #[test]
    fn provisional_from_tu_after_final_is_ignored() {
        let mut transaction = unreliable();
        transaction.send_response(486, "486");
        assert!(transaction.send_response(180, "180").is_empty());
        assert!(transaction.send_response(200, "200").is_empty());
        assert_eq!(transaction.on_retransmitted_request(), [Action::Transmit("486")]);
    }

    #[test]
    fn reliable_transport_never_retransmits() {
        let mut transaction = reliable();
        assert_eq!(
            transaction.send_response(486, "486"),
            [Action::Transmit("486"), Action::StartTimer(Timer::H, Duration::from_secs(32))]
        );
        assert!(transaction.on_timer(Timer::G).is_empty());
        assert_eq!(transaction.on_ack("ACK"), [Action::CancelTimer(Timer::H), Action::Terminated]);
    }

    #[test]
    fn transport_error_terminates_unless_accepted() {
        let mut transaction = unreliable();
        transaction.send_response(180, "180");
        assert_eq!(transaction.on_transport_error(), [Action::TransportError, Action::Terminated]);

        let mut accepted = unreliable();
        accepted.send_response(200, "200");
        assert_eq!(accepted.on_transport_error(), [Action::TransportError]);
        assert_eq!(accepted.state(), ServerInviteState::Accepted);
    }
}
