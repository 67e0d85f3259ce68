//! The INVITE client transaction of RFC 3261 §17.1.1, with the Accepted state of RFC 6026 §7.2.
//!
//! Calling → Proceeding (1xx) → Completed (300–699: ACK sent, timer D) → Terminated; a 2xx in
//! Calling or Proceeding moves to Accepted (timer M) where retransmitted 2xx are still passed
//! up, because the TU acknowledges every 2xx itself (§13.2.2.4).

use super::timers::RetransmitInterval;
use super::{Action, Reliability, StatusClass, Timer, TimerConfig};

/// The states of figure 5 of RFC 3261 plus Accepted from RFC 6026.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientInviteState {
    /// The INVITE is sent; no response yet.
    Calling,
    /// A provisional response arrived; waiting for the final one.
    Proceeding,
    /// A non-2xx final response arrived and was acknowledged; absorbing its retransmissions.
    Completed,
    /// A 2xx arrived; passing up its retransmissions and those of forked 2xx (RFC 6026).
    Accepted,
    /// Over; the driver forgets the transaction.
    Terminated,
}

/// One INVITE client transaction, holding the INVITE `M` it retransmits.
#[derive(Debug, Clone)]
pub struct ClientInvite<M> {
    request: M,
    state: ClientInviteState,
    reliability: Reliability,
    config: TimerConfig,
    timer_a: RetransmitInterval,
}

impl<M: Clone> ClientInvite<M> {
    /// Creates the transaction in Calling and returns the actions that send the INVITE and
    /// start timers A (unreliable transports only) and B.
    pub fn start(request: M, reliability: Reliability, config: TimerConfig) -> (Self, Vec<Action<M>>) {
        let timer_a = RetransmitInterval::uncapped(&config);
        let mut actions = vec![Action::Transmit(request.clone())];
        if !reliability.is_reliable() {
            actions.push(Action::StartTimer(Timer::A, timer_a.current()));
        }
        actions.push(Action::StartTimer(Timer::B, config.transaction_timeout()));
        let transaction =
            ClientInvite { request, state: ClientInviteState::Calling, reliability, config, timer_a };
        (transaction, actions)
    }

    /// The current state.
    pub fn state(&self) -> ClientInviteState {
        self.state
    }

    /// True once the transaction has ended.
    pub fn is_terminated(&self) -> bool {
        self.state == ClientInviteState::Terminated
    }

    /// A response matched to this transaction (§17.1.3), with its status code.
    pub fn on_response(&mut self, status: u16, response: M) -> Vec<Action<M>> {
        let Some(class) = StatusClass::of(status) else {
            return Vec::new();
        };
        let mut actions = Vec::new();
        match (self.state, class) {
            (ClientInviteState::Calling | ClientInviteState::Proceeding, StatusClass::Provisional) => {
                self.stop_calling_timers(&mut actions);
                self.state = ClientInviteState::Proceeding;
                actions.push(Action::PassUp(response));
            }
            (ClientInviteState::Calling | ClientInviteState::Proceeding, StatusClass::Success) => {
                self.stop_calling_timers(&mut actions);
                self.state = ClientInviteState::Accepted;
                actions.push(Action::PassUp(response));
                actions.push(Action::StartTimer(Timer::M, self.config.transaction_timeout()));
            }
            (ClientInviteState::Calling | ClientInviteState::Proceeding, StatusClass::Failure) => {
                self.stop_calling_timers(&mut actions);
                actions.push(Action::PassUp(response.clone()));
                actions.push(Action::TransmitAck(response));
                match self.config.linger(Timer::D, self.reliability) {
                    Some(timer_d) => {
                        self.state = ClientInviteState::Completed;
                        actions.push(Action::StartTimer(Timer::D, timer_d));
                    }
                    None => self.terminate(&mut actions),
                }
            }
            (ClientInviteState::Completed, StatusClass::Failure) => {
                actions.push(Action::TransmitAck(response));
            }
            (ClientInviteState::Accepted, StatusClass::Success) => {
                actions.push(Action::PassUp(response));
            }
            _ => {}
        }
        actions
    }

    /// A timer this transaction started has fired.
    pub fn on_timer(&mut self, timer: Timer) -> Vec<Action<M>> {
        let mut actions = Vec::new();
        match (self.state, timer) {
            (ClientInviteState::Calling, Timer::A) if !self.reliability.is_reliable() => {
                actions.push(Action::Transmit(self.request.clone()));
                actions.push(Action::StartTimer(Timer::A, self.timer_a.double()));
            }
            (ClientInviteState::Calling, Timer::B) => {
                actions.push(Action::Timeout);
                self.terminate(&mut actions);
            }
            (ClientInviteState::Completed, Timer::D) | (ClientInviteState::Accepted, Timer::M) => {
                self.terminate(&mut actions);
            }
            _ => {}
        }
        actions
    }

    /// The transport failed to send the INVITE or an ACK (§17.1.4).
    pub fn on_transport_error(&mut self) -> Vec<Action<M>> {
        let mut actions = Vec::new();
        if matches!(
            self.state,
            ClientInviteState::Calling | ClientInviteState::Proceeding | ClientInviteState::Completed
        ) {
            actions.push(Action::TransportError);
            self.terminate(&mut actions);
        }
        actions
    }

    /// Leaving Calling stops retransmitting the INVITE and waiting for timer B.
    fn stop_calling_timers(&self, actions: &mut Vec<Action<M>>) {
        if self.state == ClientInviteState::Calling {
            if !self.reliability.is_reliable() {
                actions.push(Action::CancelTimer(Timer::A));
            }
            actions.push(Action::CancelTimer(Timer::B));
        }
    }

    fn terminate(&mut self, actions: &mut Vec<Action<M>>) {
        self.state = ClientInviteState::Terminated;
        actions.push(Action::Terminated);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const INVITE: &str = "INVITE";

    fn unreliable() -> (ClientInvite<&'static str>, Vec<Action<&'static str>>) {
        ClientInvite::start(INVITE, Reliability::Unreliable, TimerConfig::default())
    }

    fn reliable() -> (ClientInvite<&'static str>, Vec<Action<&'static str>>) {
        ClientInvite::start(INVITE, Reliability::Reliable, TimerConfig::default())
    }

    #[test]
    fn start_sends_the_invite_and_starts_timers_a_and_b() {
        let (transaction, actions) = unreliable();
        assert_eq!(transaction.state(), ClientInviteState::Calling);
        assert_eq!(
            actions,
            [
                Action::Transmit(INVITE),
                Action::StartTimer(Timer::A, Duration::from_millis(500)),
                Action::StartTimer(Timer::B, Duration::from_secs(32)),
            ]
        );
    }

    #[test]
    fn timer_a_doubles_until_timer_b() {
        let (mut transaction, _) = unreliable();
        let mut intervals = Vec::new();
        for _ in 0..6 {
            let actions = transaction.on_timer(Timer::A);
            assert_eq!(actions[0], Action::Transmit(INVITE));
            match actions[1] {
                Action::StartTimer(Timer::A, interval) => intervals.push(interval.as_millis()),
                ref other => panic!("expected timer A restart, got {other:?}"),
            }
        }
        assert_eq!(intervals, [1000, 2000, 4000, 8000, 16000, 32000]);
        assert_eq!(transaction.on_timer(Timer::B), [Action::Timeout, Action::Terminated]);
        assert!(transaction.on_timer(Timer::A).is_empty());
    }

    #[test]
    fn timer_b_expiry_reports_timeout() {
        let (mut transaction, _) = unreliable();
        assert_eq!(transaction.on_timer(Timer::B), [Action::Timeout, Action::Terminated]);
        assert!(transaction.is_terminated());
    }

    #[test]
    fn provisional_stops_retransmissions_and_is_passed_up() {
        let (mut transaction, _) = unreliable();
        assert_eq!(
            transaction.on_response(180, "180"),
            [Action::CancelTimer(Timer::A), Action::CancelTimer(Timer::B), Action::PassUp("180")]
        );
        assert_eq!(transaction.state(), ClientInviteState::Proceeding);
        assert_eq!(transaction.on_response(183, "183"), [Action::PassUp("183")]);
        assert!(transaction.on_timer(Timer::A).is_empty());
        assert!(transaction.on_timer(Timer::B).is_empty());
    }

    #[test]
    fn ack_for_non_2xx_is_generated_by_the_client_transaction() {
        let (mut transaction, _) = unreliable();
        transaction.on_response(180, "180");
        assert_eq!(
            transaction.on_response(486, "486"),
            [
                Action::PassUp("486"),
                Action::TransmitAck("486"),
                Action::StartTimer(Timer::D, Duration::from_secs(32)),
            ]
        );
        assert_eq!(transaction.state(), ClientInviteState::Completed);
    }

    #[test]
    fn retransmitted_final_response_in_completed_resends_ack() {
        let (mut transaction, _) = unreliable();
        transaction.on_response(503, "503");
        assert_eq!(transaction.on_response(503, "503 again"), [Action::TransmitAck("503 again")]);
        assert_eq!(transaction.state(), ClientInviteState::Completed);
    }

    #[test]
    fn timer_d_expiry_terminates_completed() {
        let (mut transaction, _) = unreliable();
        transaction.on_response(404, "404");
        assert_eq!(transaction.on_timer(Timer::D), [Action::Terminated]);
    }

    #[test]
    fn provisional_after_final_is_ignored() {
        let (mut transaction, _) = unreliable();
        transaction.on_response(480, "480");
        assert!(transaction.on_response(180, "180").is_empty());
        assert!(transaction.on_response(200, "200").is_empty());
        assert_eq!(transaction.state(), ClientInviteState::Completed);
    }

    #[test]
    fn success_moves_to_accepted_and_2xx_retransmissions_are_passed_up() {
        let (mut transaction, _) = unreliable();
        assert_eq!(
            transaction.on_response(200, "200"),
            [
                Action::CancelTimer(Timer::A),
                Action::CancelTimer(Timer::B),
                Action::PassUp("200"),
                Action::StartTimer(Timer::M, Duration::from_secs(32)),
            ]
        );
        assert_eq!(transaction.state(), ClientInviteState::Accepted);
        assert_eq!(transaction.on_response(200, "200 forked"), [Action::PassUp("200 forked")]);
        assert!(transaction.on_response(486, "486").is_empty());
        assert!(transaction.on_response(180, "180").is_empty());
    }

    #[test]
    fn ack_for_2xx_is_left_to_the_transaction_user() {
        let (mut transaction, _) = unreliable();
        let actions = transaction.on_response(200, "200");
        assert!(!actions.iter().any(|action| matches!(action, Action::TransmitAck(_))));
    }

    #[test]
    fn timer_m_expiry_terminates_accepted() {
        let (mut transaction, _) = unreliable();
        transaction.on_response(200, "200");
        assert_eq!(transaction.on_timer(Timer::M), [Action::Terminated]);
    }

    #[test]
    fn reliable_transport_never_retransmits() {
        let (mut transaction, actions) = reliable();
        assert_eq!(
            actions,
            [Action::Transmit(INVITE), Action::StartTimer(Timer::B, Duration::from_secs(32))]
        );
        assert!(transaction.on_timer(Timer::A).is_empty());
        assert_eq!(transaction.state(), ClientInviteState::Calling);
    }

    #[test]
    fn reliable_transport_terminates_right_after_acking_non_2xx() {
        let (mut transaction, _) = reliable();
        assert_eq!(
            transaction.on_response(603, "603"),
            [
                Action::CancelTimer(Timer::B),
                Action::PassUp("603"),
                Action::TransmitAck("603"),
                Action::Terminated
            ]
        );
    }

    #[test]
    fn transport_error_is_reported_and_terminates() {
        let (mut transaction, _) = unreliable();
        assert_eq!(transaction.on_transport_error(), [Action::TransportError, Action::Terminated]);
        assert!(transaction.on_transport_error().is_empty());
    }

    #[test]
    fn invalid_status_codes_are_ignored() {
        let (mut transaction, _) = unreliable();
        assert!(transaction.on_response(99, "99").is_empty());
        assert!(transaction.on_response(700, "700").is_empty());
        assert_eq!(transaction.state(), ClientInviteState::Calling);
    }
}
