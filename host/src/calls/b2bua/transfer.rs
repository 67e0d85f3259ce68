//! Blind transfer (SPEC §12): the answering user hands the caller to another number of the
//! company — an extension, a queue, a menu, a voicemail box. The user's leg is hung up at
//! once; the caller, still connected to the host, hears ringback and is taken to the new
//! destination as if the host had answered it (the way a menu sends a caller on). Media
//! stays anchored, so the caller's phone is not asked to change anything.

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
    ) -> Result<(Company, Callee), ControlError> {
        let answerer = self.legs[winner].extension.as_deref();
        match (user, answerer) {
            (Some(user), Some(answerer)) if user == answerer => {}
            (None, Some(_)) => {}
            (Some(user), _) if self.caller_user.as_deref() == Some(user) => {
                return Err(ControlError::WrongState(
                    "the calling user cannot transfer its own call yet; the answering user can".into(),
                ));
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
        let company = app
            .store
            .read(|r| r.get(&COMPANIES, &self.record.company))
            .ok()
            .flatten()
            .ok_or_else(|| ControlError::WrongState("the company no longer exists".into()))?;
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
        Ok((company, callee))
    }

    /// Hang up the answering leg and take the caller to `callee`; how the call ends.
    pub(super) async fn blind_transfer(&mut self, winner: usize, company: Company, callee: Callee) -> Ending {
        let transferring = self.legs[winner].extension.clone();
        self.report.transfer_pending();
        let leg = &mut self.legs[winner];
        let bye = leg.dialog.request(Method::Bye, &[], None);
        leg.state = LegState::Done;
        let (call_id, id) = (leg.dialog.call_id.clone(), leg.id);
        self.send_request(bye, &call_id, id);
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
