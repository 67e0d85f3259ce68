//! Attended transfer (SPEC §12): a user of a connected call consults another extension
//! while the other party waits on hold, then completes the transfer (the consulted
//! party takes the user's place and the user leaves) or cancels it (back to the call).
//!
//! The consulted party's devices are rung as extra legs of this call, offered the relay
//! session's spare end ([`crate::media::relay`]'s consult), so the phones already in the
//! call keep their media as it is: the relay only changes who hears whom.
//!
//! - Consulting: the other party hears music on hold, the consulting user ringback until
//!   a device of the consulted extension answers, then that party.
//! - Complete (only once the consulted party answered; also when the consulting user
//!   hangs up then): the consulting user's leg gets BYE and the consulted party takes its
//!   place — as the caller's dialog when the calling user consulted.
//! - Cancel, or the consulted party does not answer, declines or hangs up: its legs end
//!   and the call is as before (taken off hold).

use super::*;
use crate::events::ControlError;
use crate::media::sdp::HostCodec;

/// A consult in progress.
pub(super) struct Consult {
    /// The consulting party's side of the call.
    by: Side,
    /// The consulted extension.
    target: String,
    /// The consulted extension's legs: `legs[first_leg..]`.
    first_leg: usize,
    /// The leg that answered.
    answered: Option<usize>,
    /// When its devices stop ringing.
    deadline: Instant,
}

/// Why a consult that ended on its own ended, for the consulted user's Hung up event.
const CONSULT_NO_ANSWER: &str = "no-answer";
const CONSULT_CANCELLED: &str = "consult-cancelled";
const CONSULT_HUNG_UP: &str = "normal";

impl Call {
    /// `user` (none: the answering user, else the calling one) consults extension `to`.
    pub(super) fn start_consult(
        &mut self,
        winner: usize,
        user: Option<String>,
        to: &str,
    ) -> Result<(), ControlError> {
        if self.consult.is_some() {
            return Err(ControlError::WrongState("a consult is already in progress".into()));
        }
        let answerer = self.legs[winner].extension.clone();
        let (by, consulting) = match user {
            Some(user) if answerer.as_ref() == Some(&user) => (Side::B, user),
            Some(user) if self.caller_user.as_ref() == Some(&user) => (Side::A, user),
            Some(user) => {
                return Err(ControlError::WrongState(format!("{user} is not a party of this call")));
            }
            None => match (&answerer, &self.caller_user) {
                (Some(answerer), _) => (Side::B, answerer.clone()),
                (None, Some(caller)) => (Side::A, caller.clone()),
                (None, None) => {
                    return Err(ControlError::WrongState("no user of this call could consult".into()));
                }
            },
        };
        let company = self.company_now()?;
        let target = dial_plan::resolve(&self.engine.app, &company.id, &consulting, to)
            .map_err(|e| ControlError::WrongState(format!("the number cannot be looked up: {e}")))?;
        let Target::Extension(target) = target else {
            return Err(ControlError::WrongState(format!(
                "{to} is not an extension: consults go to extensions"
            )));
        };
        if self.caller_user.as_ref() == Some(&target.extension)
            || answerer.as_ref() == Some(&target.extension)
        {
            return Err(ControlError::WrongState(format!("{to} is already in the call")));
        }
        let devices: Vec<_> = self
            .device_groups(&company, &target.extension)
            .map_err(ControlError::WrongState)?
            .into_iter()
            .flatten()
            .collect();
        if devices.is_empty() {
            return Err(ControlError::WrongState(format!("{to} has no device registered")));
        }
        let Some(payload_type) = self.codec else {
            return Err(ControlError::WrongState("the call has no media to consult over".into()));
        };
        let media =
            self.media.as_mut().ok_or_else(|| ControlError::WrongState("the call has no media".into()))?;
        let local = media.open_consult().map_err(|e| ControlError::WrongState(e.to_string()))?;
        let codec = HostCodec { payload_type, telephone_event: Some(101) };
        media.play(by, payload_type, vec![host::ringback()], true, 0);
        self.music_on_hold(by.other(), true);

        let offer = std::mem::replace(&mut self.offer, sdp::host_offer(local, codec).to_bytes());
        let first_leg = self.legs.len();
        let from = format!("<sip:{consulting}@{}>", company.sip_domain);
        for device in &devices {
            self.start_leg(0, device, &from);
        }
        self.offer = offer;
        self.consult = Some(Consult {
            by,
            target: target.extension.clone(),
            first_leg,
            answered: None,
            deadline: Instant::now() + self.engine.settings.ring_timeout,
        });
        self.report.consulting(&consulting, &target.extension);
        Ok(())
    }

    /// When the consulted devices stop ringing, while they ring.
    pub(super) fn consult_deadline(&self) -> Option<Instant> {
        self.consult.as_ref().filter(|c| c.answered.is_none()).map(|c| c.deadline)
    }

    /// Whether leg `id` rings or talks for the consult.
    pub(super) fn is_consult_leg(&self, id: LegId) -> bool {
        let consult = self.consult.as_ref();
        self.leg_index(id).is_some_and(|index| consult.is_some_and(|c| index >= c.first_leg))
    }

    /// The consulted leg `request` came on, if it did.
    fn consulted_leg_of(&self, request: &Request) -> Option<usize> {
        let consult = self.consult.as_ref()?;
        let call_id = request.call_id_header().ok()?.value().to_string();
        (consult.first_leg..self.legs.len()).find(|&index| self.legs[index].dialog.call_id == call_id)
    }

    /// Whether `request` came from a consulted device.
    pub(super) fn is_from_consulted(&self, request: &Request) -> bool {
        self.consulted_leg_of(request).is_some()
    }

    /// A request from a consulted device: BYE from the one that answered ends the consult;
    /// the rest is answered without changing anything (its media stays as offered).
    pub(super) fn on_consulted_request(&mut self, tx: Option<ServerTx>, request: &Request) {
        let (Some(index), Some(tx)) = (self.consulted_leg_of(request), tx) else { return };
        if self.legs[index].state != LegState::Answered {
            self.refuse_early_request(Some(tx), request);
            return;
        }
        let status = match request.method {
            Method::Bye => return self.consulted_hung_up(tx, request),
            Method::Info | Method::Options => 200,
            // A re-INVITE (hold) during a consult is declined: the consult is short.
            Method::Invite => 488,
            _ => 501,
        };
        let bytes = self.legs[index].dialog.response(request, status, None);
        self.send(Command::Respond { tx, status, bytes });
    }

    /// A consulted device's response to its INVITE.
    pub(super) fn on_consult_response(&mut self, leg: LegId, response: &Response) {
        let Some(index) = self.leg_index(leg) else { return };
        let status = u16::from(response.status_code.clone());
        let answered = self.consult.as_ref().and_then(|c| c.answered);
        match status {
            101..=199 => {
                let leg = &mut self.legs[index];
                if matches!(leg.state, LegState::Calling | LegState::Early) {
                    leg.state = LegState::Early;
                    leg.dialog.on_response(response);
                    if leg.cancel_wanted {
                        self.cancel_leg(index);
                    } else if let Some(user) = leg.extension.clone() {
                        self.report.ringing(&user);
                    }
                }
            }
            200..=299 if answered == Some(index) => {
                // Our ACK was lost: the 2xx came again.
                let leg = &self.legs[index];
                let ack = leg.dialog.ack(leg.invite.cseq, None);
                self.send_request(ack, &leg.dialog.call_id.clone(), leg.id);
            }
            200..=299 if answered.is_some() || self.legs[index].state == LegState::Done => {
                self.ack_and_bye(index, response);
            }
            200..=299 => self.consult_answered(index, response),
            _ if self.legs[index].state != LegState::Answered => {
                self.legs[index].state = LegState::Done;
                self.legs[index].status = Some(status);
                self.end_consult_if_unanswerable();
            }
            _ => {}
        }
    }

    /// A consulted leg's transaction timed out.
    pub(super) fn on_consult_timeout(&mut self, leg: LegId) {
        if let Some(index) = self.leg_index(leg)
            && self.legs[index].state != LegState::Answered
        {
            self.legs[index].state = LegState::Done;
            self.end_consult_if_unanswerable();
        }
    }

    /// Leg `index` of the consulted extension answered: the consulting user talks to it.
    fn consult_answered(&mut self, index: usize, response: &Response) {
        let Some(consult) = self.consult.as_mut() else { return };
        consult.answered = Some(index);
        let by = consult.by;
        let leg = &mut self.legs[index];
        leg.state = LegState::Answered;
        leg.dialog.on_response(response);
        let ack = leg.dialog.ack(leg.invite.cseq, None);
        let (call_id, id, user) = (leg.dialog.call_id.clone(), leg.id, leg.extension.clone());
        self.send_request(ack, &call_id, id);
        let first_leg = self.consult.as_ref().map_or(index, |c| c.first_leg);
        for other in first_leg..self.legs.len() {
            if other != index {
                self.cancel_leg(other);
            }
        }
        let Some(media) = &self.media else { return };
        match sdp::parse(response.body()) {
            Ok(answer) => {
                media.set_consult_remote(answer.remote_rtp());
                media.stop_playing(by);
                media.consult_with(by);
                if let Some(user) = user {
                    self.report.consult_connected(&user);
                }
            }
            Err(error) => {
                tracing::warn!(%error, "the consulted device's SDP answer is unusable");
                self.cancel_consult(CONSULT_CANCELLED);
            }
        }
    }

    /// Every consulted leg failed: back to the call.
    fn end_consult_if_unanswerable(&mut self) {
        let Some(consult) = &self.consult else { return };
        let first = consult.first_leg;
        if consult.answered.is_none() && self.legs[first..].iter().all(|l| l.state == LegState::Done) {
            self.cancel_consult(CONSULT_NO_ANSWER);
        }
    }

    /// The consulted devices rang too long.
    pub(super) fn consult_timed_out(&mut self) {
        self.cancel_consult(CONSULT_NO_ANSWER);
    }

    /// The consulted party hung up (BYE on its leg).
    pub(super) fn consulted_hung_up(&mut self, tx: ServerTx, request: &Request) {
        if let Some(index) = self.consult.as_ref().and_then(|c| c.answered) {
            let leg = &mut self.legs[index];
            let bytes = leg.dialog.response(request, 200, None);
            leg.state = LegState::Done;
            self.send(Command::Respond { tx, status: 200, bytes });
        }
        self.cancel_consult(CONSULT_HUNG_UP);
    }

    /// End the consult, ringing or talking, and go back to the call as it was.
    pub(super) fn cancel_consult(&mut self, cause: &str) {
        let Some(consult) = self.consult.take() else { return };
        for index in consult.first_leg..self.legs.len() {
            match self.legs[index].state {
                LegState::Answered => self.hang_up_leg(index),
                _ => self.cancel_leg(index),
            }
        }
        if let Some(media) = &self.media {
            media.end_consult();
            media.stop_playing(consult.by);
            media.stop_playing(consult.by.other());
        }
        self.report.consult_ended(&consult.target, cause);
    }

    /// A command to cancel the consult.
    pub(super) fn cancel_consult_command(&mut self) -> Result<(), ControlError> {
        if self.consult.is_none() {
            return Err(ControlError::WrongState("no consult in progress".into()));
        }
        self.cancel_consult(CONSULT_CANCELLED);
        Ok(())
    }

    /// Hand the call to the consulted party, who answered: the consulting user leaves.
    /// The answering leg's index from now on.
    pub(super) fn complete_consult(&mut self, winner: usize) -> Result<usize, ControlError> {
        let Some(consult) = self.consult.as_ref() else {
            return Err(ControlError::WrongState("no consult in progress".into()));
        };
        let Some(consulted) = consult.answered else {
            return Err(ControlError::WrongState(format!("{} has not answered yet", consult.target)));
        };
        // Just checked: a consult is in progress.
        let consult = self.consult.take().expect("a consult");
        self.report.transfer_pending();
        let leaving = match consult.by {
            Side::B => {
                if self.legs[winner].state != LegState::Done {
                    self.hang_up_leg(winner);
                }
                self.legs[winner].extension.clone()
            }
            Side::A => {
                self.hang_up_caller();
                // The consulted party's dialog is the caller's from now on.
                self.caller = self.legs[consulted].dialog.clone();
                self.caller_done = false;
                self.legs[consulted].state = LegState::Done;
                self.caller_user.replace(consult.target.clone())
            }
        };
        if let Some(media) = &self.media {
            media.complete_consult(consult.by);
            media.stop_playing(Side::A);
            media.stop_playing(Side::B);
        }
        self.record.destination = Some(format!("extension {} (transferred)", consult.target));
        let now = if consult.by == Side::B { consulted } else { winner };
        self.in_call.clear();
        let presence = self.engine.presence.clone();
        for extension in [self.caller_user.clone(), self.legs[now].extension.clone()].into_iter().flatten() {
            self.in_call.push(presence.enter_call(&self.record.company, &extension));
        }
        self.report.consult_completed(leaving.as_deref(), &consult.target);
        Ok(now)
    }

    /// Whether a BYE from the caller's side (`from_caller`) or the answering one hangs up
    /// the consulting user while the consulted party is on the line: that completes the
    /// transfer (as on most PBXs).
    pub(super) fn hang_up_completes(&self, from_caller: bool) -> bool {
        self.consult.as_ref().is_some_and(|c| (c.by == Side::A) == from_caller && c.answered.is_some())
    }

    /// The consulting user hung up ([`Call::hang_up_completes`]): complete the transfer.
    /// The answering leg's index from now on.
    pub(super) fn complete_on_hang_up(&mut self, from_caller: bool, winner: usize) -> Option<usize> {
        // The leaving user's BYE was answered; the completion's own BYE is not needed.
        if from_caller {
            self.caller_done = true;
        } else {
            self.legs[winner].state = LegState::Done;
        }
        self.complete_consult(winner).ok()
    }

    /// The call ends with a consult in progress: its legs end too.
    pub(super) fn drop_consult(&mut self) {
        if let Some(consult) = self.consult.take() {
            for index in consult.first_leg..self.legs.len() {
                match self.legs[index].state {
                    LegState::Answered => self.hang_up_leg(index),
                    _ => self.cancel_leg(index),
                }
            }
        }
    }
}
