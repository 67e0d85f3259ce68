//! Blind transfer (SPEC §12): a user hands the other party to another number of the
//! company and leaves at once. Media stays anchored, so the remaining party's phone is
//! not asked to change anything.
//!
//! - The answering user transfers the caller to an extension, a queue, a menu or a
//!   voicemail box: the caller, still connected to the host, hears ringback and is taken
//!   to the new destination as if the host had answered it (the way a menu sends a
//!   caller on).
//! - The calling user transfers the callee to an extension: its devices ring on the
//!   caller's side of the relay while the callee hears ringback, and the one that answers
//!   becomes the call's caller (as in click-to-dial).

use super::route::{Callee, Ringing};
use super::*;
use crate::events::ControlError;
use crate::media::sdp::HostCodec;

impl Call {
    /// Check a transfer of the connected call with `winner` to `to` by `user` (none: the
    /// answering user) and find where it goes; the call is not touched yet.
    pub(super) fn transfer_target(
        &self,
        winner: usize,
        user: Option<&str>,
        to: &str,
    ) -> Result<(Company, TransferTo), ControlError> {
        let answerer = self.legs[winner].extension.as_deref();
        match (user, answerer) {
            (Some(user), Some(answerer)) if user == answerer => {}
            (None, Some(_)) => {}
            (Some(user), _) if self.caller_user.as_deref() == Some(user) => {
                return self.caller_transfer_target(user, to);
            }
            (Some(user), _) => {
                return Err(ControlError::WrongState(format!("{user} is not a party of this call")));
            }
            (None, None) => {
                return Err(ControlError::WrongState(
                    "the call was not answered by a user who could transfer it".into(),
                ));
            }
        }
        let app = &self.engine.app;
        let company = self.company_now()?;
        let transferring = answerer.unwrap_or_default();
        let target = dial_plan::resolve(app, &company.id, transferring, to)
            .map_err(|e| ControlError::WrongState(format!("the transfer target cannot be looked up: {e}")))?;
        let callee = match target {
            Target::Extension(user) if Some(user.extension.as_str()) == answerer => {
                return Err(ControlError::WrongState(format!("{to} is the transferring user itself")));
            }
            Target::Extension(user) => Callee::Extension(user),
            Target::Queue(queue) => Callee::Queue(queue),
            Target::Ivr(menu) => Callee::Ivr(menu),
            Target::Voicemail(mailbox) => Callee::Voicemail(mailbox),
            Target::Room(room) => Callee::Room(room),
            Target::External(_) => {
                return Err(ControlError::WrongState(format!(
                    "{to} is an outside number: transfers go to internal numbers"
                )));
            }
            Target::Pickup(_) | Target::VoicemailAccess(_) | Target::Unknown => {
                return Err(ControlError::WrongState(format!(
                    "{to} is not a number a call can be transferred to"
                )));
            }
        };
        Ok((company, TransferTo::Destination(callee)))
    }

    /// The calling `user` transfers the callee to `to`: an extension with devices.
    fn caller_transfer_target(&self, user: &str, to: &str) -> Result<(Company, TransferTo), ControlError> {
        let app = &self.engine.app;
        let company = self.company_now()?;
        let target = dial_plan::resolve(app, &company.id, user, to)
            .map_err(|e| ControlError::WrongState(format!("the transfer target cannot be looked up: {e}")))?;
        let Target::Extension(target) = target else {
            return Err(ControlError::WrongState(format!(
                "{to} is not an extension: the calling user transfers to extensions only"
            )));
        };
        if target.extension == user
            || self.legs.iter().any(|l| l.extension.as_ref() == Some(&target.extension))
        {
            return Err(ControlError::WrongState(format!("{to} is already in the call")));
        }
        let groups = self.device_groups(&company, &target.extension).map_err(ControlError::WrongState)?;
        if groups.is_empty() {
            return Err(ControlError::WrongState(format!("{to} has no device registered")));
        }
        Ok((company, TransferTo::CallerSide(target, groups)))
    }

    /// The calling user leaves; `user`'s devices (`groups`) ring for the callee of
    /// `winner`, who hears ringback; the one that answers becomes the caller.
    pub(super) async fn transfer_caller_side(
        &mut self,
        winner: usize,
        company: Company,
        user: Box<User>,
        groups: Vec<Vec<RingTarget>>,
    ) -> Ending {
        self.report.transfer_pending();
        let bye = self.caller.request(Method::Bye, &[], None);
        let call_id = self.caller.call_id.clone();
        self.send_request(bye, &call_id, CALLER_LEG);
        self.caller_done = true;
        if let Some(leaving) = self.caller_user.take() {
            self.report.transferred(&leaving);
        }
        self.in_call.clear();
        let (Some(media), Some(payload_type)) = (&self.media, self.codec) else {
            self.hang_up_leg(winner);
            return Ending::new(CallStatus::Answered, "transfer without media", None);
        };
        let codec = HostCodec { payload_type, telephone_event: Some(101) };
        media.play(Side::B, payload_type, vec![host::ringback()], true, 0);
        self.offer = sdp::host_offer(media.local(Side::A), codec).to_bytes();
        self.host = Some(HostLeg::connected(codec));
        self.answer = None;
        let kept = self.winner.take();
        self.new_caller = true;
        let shown = self.legs[winner].extension.clone().unwrap_or_else(|| self.record.called.clone());
        let from = format!("<sip:{shown}@{}>", company.sip_domain);
        let plan = ring::RingPlan {
            group_time: Some(self.engine.settings.group_ring_time),
            timeout: self.engine.settings.ring_timeout,
        };
        let rung = self.ring(groups, &from, plan).await;
        self.new_caller = false;
        self.winner = kept;
        if let Some(ending) = rung {
            self.hang_up_leg(winner);
            return ending;
        }
        if let Some(media) = &self.media {
            media.stop_playing(Side::B);
        }
        self.caller_user = Some(user.extension.clone());
        self.record.destination = Some(format!("extension {} (transferred)", user.extension));
        self.report.connected(Some(&user.extension), self.legs[winner].extension.as_deref());
        Box::pin(self.talk()).await
    }

    /// Hang up the connected leg `index`.
    pub(super) fn hang_up_leg(&mut self, index: usize) {
        let leg = &mut self.legs[index];
        let bye = leg.dialog.request(Method::Bye, &[], None);
        leg.state = LegState::Done;
        let (call_id, id) = (leg.dialog.call_id.clone(), leg.id);
        self.send_request(bye, &call_id, id);
    }

    /// Hang up the answering leg and take the caller to `callee`; how the call ends.
    pub(super) async fn blind_transfer(&mut self, winner: usize, company: Company, callee: Callee) -> Ending {
        let transferring = self.legs[winner].extension.clone();
        self.report.transfer_pending();
        self.hang_up_leg(winner);
        if let Some(user) = &transferring {
            self.report.transferred(user);
        }
        self.in_call.clear();
        self.winner = None;
        self.winner_ack = None;
        if self.host.is_none() {
            let Some(payload_type) = self.codec else {
                self.hang_up_caller();
                return Ending::new(CallStatus::Answered, "transfer without media", None);
            };
            let telephone_event =
                sdp::parse(self.invite.body()).ok().and_then(|offer| offer.telephone_event());
            self.host = Some(HostLeg::connected(HostCodec { payload_type, telephone_event }));
        }
        if let Some(media) = &self.media {
            // Whatever played (music on hold) stops; the new party's side is silent until it answers.
            media.stop_playing(Side::B);
        }
        self.record.destination = None;
        let caller = self.record.caller.clone();
        let display = self.record.caller_name.clone().unwrap_or_else(|| caller.clone());
        let ringing = Ringing { callee, display, caller_id: Some(caller) };
        match Box::pin(self.serve(&company, ringing, None)).await {
            Ok(ending) => ending,
            Err(error) => {
                tracing::error!(%error, "transfer failed inside the host");
                self.hang_up_caller();
                Ending::new(CallStatus::Failed, error, None)
            }
        }
    }
}

/// Where a transfer goes.
pub(super) enum TransferTo {
    /// The answering user's caller goes to a destination.
    Destination(Callee),
    /// The calling user's callee rings this extension's devices.
    CallerSide(Box<User>, Vec<Vec<RingTarget>>),
}
