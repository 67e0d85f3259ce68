//! The non-INVITE server transaction of RFC 3261 §17.2.2.
//!
//! Trying → Proceeding (the TU sends 1xx) → Completed (200–699, timer J) → Terminated. A
//! retransmitted request is absorbed in Trying and answered with the last response after.

use super::{Action, Reliability, StatusClass, Timer, TimerConfig};

/// The states of figure 8 of RFC 3261.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerNonInviteState {
    /// The request was passed up; no response yet.
    Trying,
    /// The TU sent a provisional response.
    Proceeding,
    /// The TU sent the final response; answering request retransmissions with it.
    Completed,
    /// Over; the driver forgets the transaction.
    Terminated,
}

/// One non-INVITE server transaction, holding the last response `M` it sent.
#[derive(Debug, Clone)]
pub struct ServerNonInvite<M> {
    state: ServerNonInviteState,
    reliability: Reliability,
    config: TimerConfig,
    last_response: Option<M>,
}

impl<M: Clone> ServerNonInvite<M> {
    /// Creates the transaction in Trying for a new request and returns the action that
    /// passes it up.
    pub fn new(request: M, reliability: Reliability, config: TimerConfig) -> (Self, Vec<Action<M>>) {
        let transaction =
            ServerNonInvite { state: ServerNonInviteState::Trying, reliability, config, last_response: None };
        (transaction, vec![Action::PassUp(request)])
    }

    /// The current state.
    pub fn state(&self) -> ServerNonInviteState {
        self.state
    }

    /// True once the transaction has ended.
    pub fn is_terminated(&self) -> bool {
        self.state == ServerNonInviteState::Terminated
    }

    /// The TU sends a response with this status code. Anything after the final one is ignored.
    pub fn send_response(&mut self, status: u16, response: M) -> Vec<Action<M>> {
        let Some(class) = StatusClass::of(status) else {
            return Vec::new();
        };
        let mut actions = Vec::new();
        if !matches!(self.state, ServerNonInviteState::Trying | ServerNonInviteState::Proceeding) {
            return actions;
        }
        actions.push(Action::Transmit(response.clone()));
        self.last_response = Some(response);
        if class == StatusClass::Provisional {
            self.state = ServerNonInviteState::Proceeding;
            return actions;
        }
        match self.config.linger(Timer::J, self.reliability) {
            Some(timer_j) => {
                self.state = ServerNonInviteState::Completed;
                actions.push(Action::StartTimer(Timer::J, timer_j));
            }
            None => self.terminate(&mut actions),
        }
        actions
    }

    /// A retransmission of the request arrived (§17.2.3 matched it to this transaction).
    pub fn on_retransmitted_request(&mut self) -> Vec<Action<M>> {
        match (self.state, &self.last_response) {
            (ServerNonInviteState::Proceeding | ServerNonInviteState::Completed, Some(last)) => {
                vec![Action::Transmit(last.clone())]
            }
            _ => Vec::new(),
        }
    }

    /// A timer this transaction started has fired.
    pub fn on_timer(&mut self, timer: Timer) -> Vec<Action<M>> {
        let mut actions = Vec::new();
        if self.state == ServerNonInviteState::Completed && timer == Timer::J {
            self.terminate(&mut actions);
        }
        actions
    }

    /// The transport failed to send a response (§17.2.4).
    pub fn on_transport_error(&mut self) -> Vec<Action<M>> {
        let mut actions = Vec::new();
        if matches!(self.state, ServerNonInviteState::Proceeding | ServerNonInviteState::Completed) {
            actions.push(Action::TransportError);
            self.terminate(&mut actions);
        }
        actions
    }

    fn terminate(&mut self, actions: &mut Vec<Action<M>>) {
        self.state = ServerNonInviteState::Terminated;
        actions.push(Action::Terminated);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn unreliable() -> ServerNonInvite<&'static str> {
        ServerNonInvite::new("OPTIONS", Reliability::Unreliable, TimerConfig::default()).0
    }

    #[test]
    fn new_request_is_passed_up() {
        let (transaction, actions) =
            ServerNonInvite::new("OPTIONS", Reliability::Unreliable, TimerConfig::default());
        assert_eq!(actions, [Action::PassUp("OPTIONS")]);
        assert_eq!(transaction.state(), ServerNonInviteState::Trying);
    }

    #[test]
    fn retransmitted_request_in_trying_is_absorbed() {
        let mut transaction = unreliable();
        assert!(transaction.on_retransmitted_request().is_empty());
        assert_eq!(transaction.state(), ServerNonInviteState::Trying);
    }

    #[test]
    fn retransmitted_request_resends_the_last_response() {
        let mut transaction = unreliable();
        assert_eq!(transaction.send_response(100, "100"), [Action::Transmit("100")]);
        assert_eq!(transaction.state(), ServerNonInviteState::Proceeding);
        assert_eq!(transaction.on_retransmitted_request(), [Action::Transmit("100")]);
        transaction.send_response(200, "200");
        assert_eq!(transaction.on_retransmitted_request(), [Action::Transmit("200")]);
    }

    #[test]
    fn final_response_starts_timer_j_and_its_expiry_terminates() {
        let mut transaction = unreliable();
        assert_eq!(
            transaction.send_response(200, "200"),
            [Action::Transmit("200"), Action::StartTimer(Timer::J, Duration::from_secs(32))]
        );
        assert_eq!(transaction.state(), ServerNonInviteState::Completed);
        assert_eq!(transaction.on_timer(Timer::J), [Action::Terminated]);
    }

    #[test]
    fn responses_after_the_final_one_are_ignored() {
        let mut transaction = unreliable();
        transaction.send_response(404, "404");
        assert!(transaction.send_response(180, "180").is_empty());
        assert!(transaction.send_response(200, "200").is_empty());
        assert_eq!(transaction.on_retransmitted_request(), [Action::Transmit("404")]);
    }

    #[test]
    fn reliable_transport_terminates_right_after_the_final_response() {
        let mut transaction = ServerNonInvite::new("BYE", Reliability::Reliable, TimerConfig::default()).0;
        assert_eq!(transaction.send_response(200, "200"), [Action::Transmit("200"), Action::Terminated]);
        assert!(transaction.is_terminated());
    }

    #[test]
    fn transport_error_is_reported_and_terminates() {
        let mut transaction = unreliable();
        transaction.send_response(200, "200");
        assert_eq!(transaction.on_transport_error(), [Action::TransportError, Action::Terminated]);
        assert!(transaction.on_retransmitted_request().is_empty());
    }
}
