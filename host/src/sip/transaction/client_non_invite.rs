//! The non-INVITE client transaction of RFC 3261 §17.1.2.
//!
//! Trying → Proceeding (1xx) → Completed (200–699, timer K) → Terminated. On unreliable
//! transports timer E retransmits the request, doubling up to T2 (and every T2 once a
//! provisional arrived); timer F gives up.

use super::timers::RetransmitInterval;
use super::{Action, Reliability, StatusClass, Timer, TimerConfig};

/// The states of figure 6 of RFC 3261.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientNonInviteState {
    /// The request is sent; no response yet.
    Trying,
    /// A provisional response arrived; waiting for the final one.
    Proceeding,
    /// The final response arrived; absorbing its retransmissions.
    Completed,
    /// Over; the driver forgets the transaction.
    Terminated,
}

/// One non-INVITE client transaction, holding the request `M` it retransmits.
#[derive(Debug, Clone)]
pub struct ClientNonInvite<M> {
    request: M,
    state: ClientNonInviteState,
    reliability: Reliability,
    config: TimerConfig,
    timer_e: RetransmitInterval,
}

impl<M: Clone> ClientNonInvite<M> {
    /// Creates the transaction in Trying and returns the actions that send the request and
    /// start timers E (unreliable transports only) and F.
    pub fn start(request: M, reliability: Reliability, config: TimerConfig) -> (Self, Vec<Action<M>>) {
        let timer_e = RetransmitInterval::capped_at_t2(&config);
        let mut actions = vec![Action::Transmit(request.clone())];
        if !reliability.is_reliable() {
            actions.push(Action::StartTimer(Timer::E, timer_e.current()));
        }
        actions.push(Action::StartTimer(Timer::F, config.transaction_timeout()));
        let transaction =
            ClientNonInvite { request, state: ClientNonInviteState::Trying, reliability, config, timer_e };
        (transaction, actions)
    }

    /// The current state.
    pub fn state(&self) -> ClientNonInviteState {
        self.state
    }

    /// True once the transaction has ended.
    pub fn is_terminated(&self) -> bool {
        self.state == ClientNonInviteState::Terminated
    }

    /// A response matched to this transaction (§17.1.3), with its status code.
    pub fn on_response(&mut self, status: u16, response: M) -> Vec<Action<M>> {
        let Some(class) = StatusClass::of(status) else {
            return Vec::new();
        };
        let mut actions = Vec::new();
        if !matches!(self.state, ClientNonInviteState::Trying | ClientNonInviteState::Proceeding) {
            return actions;
        }
        if class == StatusClass::Provisional {
            self.state = ClientNonInviteState::Proceeding;
            actions.push(Action::PassUp(response));
            return actions;
        }
        if !self.reliability.is_reliable() {
            actions.push(Action::CancelTimer(Timer::E));
        }
        actions.push(Action::CancelTimer(Timer::F));
        actions.push(Action::PassUp(response));
        match self.config.linger(Timer::K, self.reliability) {
            Some(timer_k) => {
                self.state = ClientNonInviteState::Completed;
                actions.push(Action::StartTimer(Timer::K, timer_k));
            }
            None => self.terminate(&mut actions),
        }
        actions
    }

    /// A timer this transaction started has fired.
    pub fn on_timer(&mut self, timer: Timer) -> Vec<Action<M>> {
        let mut actions = Vec::new();
        let retransmits = !self.reliability.is_reliable();
        match (self.state, timer) {
            (ClientNonInviteState::Trying, Timer::E) if retransmits => {
                actions.push(Action::Transmit(self.request.clone()));
                actions.push(Action::StartTimer(Timer::E, self.timer_e.double()));
            }
            (ClientNonInviteState::Proceeding, Timer::E) if retransmits => {
                actions.push(Action::Transmit(self.request.clone()));
                actions.push(Action::StartTimer(Timer::E, self.timer_e.set(self.config.t2)));
            }
            (ClientNonInviteState::Trying | ClientNonInviteState::Proceeding, Timer::F) => {
                actions.push(Action::Timeout);
                self.terminate(&mut actions);
            }
            (ClientNonInviteState::Completed, Timer::K) => self.terminate(&mut actions),
            _ => {}
        }
        actions
    }

    /// The transport failed to send the request (§17.1.4).
    pub fn on_transport_error(&mut self) -> Vec<Action<M>> {
        let mut actions = Vec::new();
        if matches!(self.state, ClientNonInviteState::Trying | ClientNonInviteState::Proceeding) {
            actions.push(Action::TransportError);
            self.terminate(&mut actions);
        }
        actions
    }

    fn terminate(&mut self, actions: &mut Vec<Action<M>>) {
        self.state = ClientNonInviteState::Terminated;
        actions.push(Action::Terminated);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const BYE: &str = "BYE";

    fn unreliable() -> ClientNonInvite<&'static str> {
        ClientNonInvite::start(BYE, Reliability::Unreliable, TimerConfig::default()).0
    }

    fn restart_interval(actions: &[Action<&'static str>]) -> u128 {
        match actions {
            [Action::Transmit(BYE), Action::StartTimer(Timer::E, interval)] => interval.as_millis(),
            other => panic!("expected a retransmission and a timer E restart, got {other:?}"),
        }
    }

    #[test]
    fn start_sends_the_request_and_starts_timers_e_and_f() {
        let (_, actions) = ClientNonInvite::start(BYE, Reliability::Unreliable, TimerConfig::default());
        assert_eq!(
            actions,
            [
                Action::Transmit(BYE),
                Action::StartTimer(Timer::E, Duration::from_millis(500)),
                Action::StartTimer(Timer::F, Duration::from_secs(32)),
            ]
        );
    }

    #[test]
    fn timer_e_caps_at_t2() {
        let mut transaction = unreliable();
        let intervals: Vec<u128> =
            (0..5).map(|_| restart_interval(&transaction.on_timer(Timer::E))).collect();
        assert_eq!(intervals, [1000, 2000, 4000, 4000, 4000]);
    }

    #[test]
    fn timer_e_fires_every_t2_in_proceeding() {
        let mut transaction = unreliable();
        assert_eq!(transaction.on_response(100, "100"), [Action::PassUp("100")]);
        assert_eq!(transaction.state(), ClientNonInviteState::Proceeding);
        assert_eq!(restart_interval(&transaction.on_timer(Timer::E)), 4000);
        assert_eq!(restart_interval(&transaction.on_timer(Timer::E)), 4000);
    }

    #[test]
    fn timer_f_expiry_reports_timeout() {
        let mut transaction = unreliable();
        assert_eq!(transaction.on_timer(Timer::F), [Action::Timeout, Action::Terminated]);
        assert!(transaction.is_terminated());
    }

    #[test]
    fn final_response_is_passed_up_and_timer_k_absorbs_retransmissions() {
        let mut transaction = unreliable();
        assert_eq!(
            transaction.on_response(200, "200"),
            [
                Action::CancelTimer(Timer::E),
                Action::CancelTimer(Timer::F),
                Action::PassUp("200"),
                Action::StartTimer(Timer::K, Duration::from_secs(5)),
            ]
        );
        assert_eq!(transaction.state(), ClientNonInviteState::Completed);
        assert!(transaction.on_response(200, "200 again").is_empty());
        assert!(transaction.on_timer(Timer::E).is_empty());
        assert_eq!(transaction.on_timer(Timer::K), [Action::Terminated]);
    }

    #[test]
    fn provisional_after_final_is_ignored() {
        let mut transaction = unreliable();
        transaction.on_response(481, "481");
        assert!(transaction.on_response(180, "180").is_empty());
        assert_eq!(transaction.state(), ClientNonInviteState::Completed);
    }

    #[test]
    fn reliable_transport_never_retransmits() {
        let (mut transaction, actions) =
            ClientNonInvite::start(BYE, Reliability::Reliable, TimerConfig::default());
        assert_eq!(actions, [Action::Transmit(BYE), Action::StartTimer(Timer::F, Duration::from_secs(32))]);
        assert!(transaction.on_timer(Timer::E).is_empty());
        assert_eq!(
            transaction.on_response(200, "200"),
            [Action::CancelTimer(Timer::F), Action::PassUp("200"), Action::Terminated]
        );
    }

    #[test]
    fn transport_error_is_reported_and_terminates() {
        let mut transaction = unreliable();
        assert_eq!(transaction.on_transport_error(), [Action::TransportError, Action::Terminated]);
        assert!(transaction.on_response(200, "200").is_empty());
    }
}
