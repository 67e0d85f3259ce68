//! Commands from CTI clients (SPEC §12) carried out on the call: hang up while it rings or
//! after, hold and resume once it is answered. Each is answered with the call's state
//! after it, or why it could not be done; a command whose client stopped waiting is
//! dropped unanswered (it was told the call was busy).

use super::*;
use crate::events::{CallCommand, ControlError};

/// What a connected call does after a command.
pub(super) enum Controlled {
    /// Goes on.
    Go,
    /// Ends so.
    End(Ending),
    /// Goes where the transfer says.
    Transfer(Box<Company>, super::transfer::TransferTo),
    /// Goes on with the answering leg at this index (an attended transfer completed).
    Completed(usize),
}

/// Why the CDR says the call ended when a client hung it up.
const HUNG_UP_BY_CLIENT: &str = "hung up by a CTI client";

impl Call {
    /// A command while the callee rings: only hanging up applies. `Some` ends the call.
    pub(super) fn control_while_ringing(&mut self, control: Control) -> Option<Ending> {
        if control.reply.is_closed() {
            return None;
        }
        match control.command {
            CallCommand::HangUp => {
                self.cancel_legs_except(None);
                self.respond_caller(487, None);
                let _ = control.reply.send(Ok(self.report.call().clone()));
                Some(Ending::new(CallStatus::Cancelled, HUNG_UP_BY_CLIENT, Some(487)))
            }
            CallCommand::PickUp { user } => {
                let answer = self.pick_up_for(&user).map(|()| self.report.call().clone());
                let _ = control.reply.send(answer);
                None
            }
            CallCommand::Hold { .. }
            | CallCommand::Resume
            | CallCommand::Transfer { .. }
            | CallCommand::Consult { .. }
            | CallCommand::CompleteTransfer
            | CallCommand::CancelConsult => {
                let _ =
                    control.reply.send(Err(ControlError::WrongState("the call is not answered yet".into())));
                None
            }
        }
    }

    /// Ring `user`'s devices too, asking them to answer by themselves (the user asked for
    /// the call): the first answer wins as for any ringing call.
    fn pick_up_for(&mut self, user: &str) -> Result<(), ControlError> {
        if self.answer_makes_caller() || self.legs.iter().any(|l| l.extension.as_deref() == Some(user)) {
            return Err(ControlError::WrongState(format!("the call already rings {user}")));
        }
        if self.caller_user.as_deref() == Some(user) {
            return Err(ControlError::WrongState(format!("{user} placed the call")));
        }
        let company = self.company_now()?;
        let devices: Vec<_> = self
            .device_groups(&company, user)
            .map_err(ControlError::WrongState)?
            .into_iter()
            .flatten()
            .collect();
        if devices.is_empty() {
            return Err(ControlError::WrongState(format!("{user} has no device registered")));
        }
        let usual = std::mem::replace(
            &mut self.leg_headers,
            vec![("Call-Info", format!("<sip:{}>;answer-after=0", company.sip_domain))],
        );
        let (group, from) = (self.ring_group, self.ring_from.clone());
        for device in &devices {
            self.start_leg(group, device, &from);
        }
        self.leg_headers = usual;
        self.picker = Some(user.to_string());
        Ok(())
    }

    /// The call's company as stored now (commands may come long after the call began).
    pub(super) fn company_now(&self) -> Result<Company, ControlError> {
        let found = self.engine.app.store.read(|r| r.get(&COMPANIES, &self.record.company));
        found.ok().flatten().ok_or_else(|| ControlError::WrongState("the company no longer exists".into()))
    }

    /// The CDR names who picked the call up when the picker's device answered.
    pub(super) fn note_picked_up(&mut self, index: usize) {
        let picker = self.legs[index].extension.as_ref().filter(|e| self.picker.as_ref() == Some(*e));
        if let (Some(picker), Some(destination)) = (picker, &self.record.destination) {
            self.record.destination = Some(format!("{destination} (picked up by {picker})"));
        }
    }

    /// A command while the host itself serves the caller (a menu, a queue, voicemail):
    /// only hanging up applies. `Some` when the caller is gone.
    pub(super) fn control_while_host_serves(&mut self, control: Control) -> Option<super::Heard> {
        if control.reply.is_closed() {
            return None;
        }
        match control.command {
            CallCommand::HangUp => {
                self.hang_up_caller();
                let _ = control.reply.send(Ok(self.report.call().clone()));
                Some(super::Heard::HungUp(HUNG_UP_BY_CLIENT.into()))
            }
            CallCommand::Hold { .. }
            | CallCommand::Resume
            | CallCommand::Transfer { .. }
            | CallCommand::Consult { .. }
            | CallCommand::CompleteTransfer
            | CallCommand::CancelConsult
            | CallCommand::PickUp { .. } => {
                let busy = "the host is serving the call (a menu, a queue or voicemail)";
                let _ = control.reply.send(Err(ControlError::WrongState(busy.into())));
                None
            }
        }
    }

    /// A command on the connected call with `winner`: what the call does next.
    pub(super) fn control_while_talking(&mut self, control: Control, winner: usize) -> Controlled {
        if control.reply.is_closed() {
            return Controlled::Go;
        }
        let answer = match control.command {
            CallCommand::HangUp => {
                self.hang_up_both(winner);
                let _ = control.reply.send(Ok(self.report.call().clone()));
                return Controlled::End(Ending::new(CallStatus::Answered, HUNG_UP_BY_CLIENT, None));
            }
            CallCommand::Hold { user } => self.hold(winner, user),
            CallCommand::Resume => self.resume(),
            CallCommand::Consult { user, to } => self.start_consult(winner, user, &to),
            CallCommand::CancelConsult => self.cancel_consult_command(),
            CallCommand::CompleteTransfer => match self.complete_consult(winner) {
                Ok(now) => {
                    let _ = control.reply.send(Ok(self.report.call().clone()));
                    return Controlled::Completed(now);
                }
                Err(error) => Err(error),
            },
            CallCommand::PickUp { .. } => {
                Err(ControlError::WrongState("the call was answered already".into()))
            }
            CallCommand::Transfer { .. } if self.consult.is_some() => {
                Err(ControlError::WrongState("a consult is in progress: complete or cancel it".into()))
            }
            CallCommand::Transfer { user, to } => match self.transfer_target(winner, user.as_deref(), &to) {
                Ok((company, to)) => {
                    let _ = control.reply.send(Ok(self.report.call().clone()));
                    return Controlled::Transfer(Box::new(company), to);
                }
                Err(error) => Err(error),
            },
        };
        let _ = control.reply.send(answer.map(|()| self.report.call().clone()));
        Controlled::Go
    }

    /// `user` (or, when none, the calling user, else the answering one) holds the call:
    /// the other party hears music on hold, the holder silence. Media stays anchored, so
    /// no phone is asked to change anything.
    fn hold(&mut self, winner: usize, user: Option<String>) -> Result<(), ControlError> {
        if self.consult.is_some() {
            return Err(ControlError::WrongState("a consult is in progress: the call is on hold".into()));
        }
        if self.report.call().state != crate::events::CallState::Connected {
            return Err(ControlError::WrongState("the call is not connected (already on hold?)".into()));
        }
        let answerer = self.legs[winner].extension.clone();
        let holder = match user {
            Some(user) if self.caller_user.as_ref() == Some(&user) => Side::A,
            Some(user) if answerer.as_ref() == Some(&user) => Side::B,
            Some(user) => {
                return Err(ControlError::WrongState(format!("{user} is not a party of this call")));
            }
            None if self.caller_user.is_some() || answerer.is_none() => Side::A,
            None => Side::B,
        };
        let (Some(media), Some(codec)) = (&self.media, self.codec) else {
            return Err(ControlError::WrongState("the call has no media to hold".into()));
        };
        media.play(holder, codec, Vec::new(), false, 0);
        self.music_on_hold(holder.other(), true);
        let by = if holder == Side::A { self.caller_user.clone() } else { answerer };
        self.report.held(by.as_deref());
        Ok(())
    }

    /// Take the call off hold: both parties hear each other again.
    fn resume(&mut self) -> Result<(), ControlError> {
        if self.report.call().state != crate::events::CallState::Held {
            return Err(ControlError::WrongState("the call is not on hold".into()));
        }
        if let Some(media) = &self.media {
            media.stop_playing(Side::A);
            media.stop_playing(Side::B);
        }
        self.report.resumed();
        Ok(())
    }
}
