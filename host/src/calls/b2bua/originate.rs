//! Click-to-dial (SPEC §12): a call the host places for a user, asked by a CTI client.
//!
//! 1. The user's devices ring as for an incoming call (their groups and orders), offered
//!    the host's own media (Side A of a fresh relay session), showing the number to call.
//! 2. When one answers, its dialog becomes the call's caller, answered by the host (as a
//!    caller in a menu is): the number is then dialled as if the user had dialled it —
//!    normalised by the company's plan, authorised by its permissions module — and the
//!    user hears ringback until it answers.
//!
//! A user who does not answer, or a client that hangs up meanwhile, ends the call before
//! anyone else is rung.

use super::*;
use crate::events::{ClickToDial, ControlError};
use crate::media::sdp::HostCodec;

/// The codec the host offers the user's phone: PCMU with RFC 4733 events.
const OFFERED: HostCodec = HostCodec { payload_type: sdp::PCMU, telephone_event: Some(101) };

/// Place the click-to-dial call `request` asks for, to its end.
pub(in crate::calls) async fn run(engine: Arc<CallEngine>, request: ClickToDial) {
    let ClickToDial { company: company_id, user, number, reply } = request;
    let found = engine.app.store.read(|r| {
        let company = r.get(&COMPANIES, &company_id)?;
        let user = r.get(&USERS, &company_key(&company_id, &user))?;
        Ok::<_, StoreError>(company.zip(user))
    });
    let (company, user) = match found {
        Ok(Some(found)) => found,
        Ok(None) => {
            let _ = reply.send(Err(ControlError::WrongState(format!("no user {user} in the company"))));
            return;
        }
        Err(error) => {
            let _ = reply.send(Err(ControlError::WrongState(format!("the store cannot be read: {error}"))));
            return;
        }
    };
    let dialled = match company.dialling.normalise(&number) {
        // Internal and national numbers dial as they are; E.164 ones with their "+".
        Ok(normalised) => normalised.as_str().to_string(),
        Err(error) => {
            let _ = reply.send(Err(ControlError::WrongState(error.to_string())));
            return;
        }
    };
    let settings = &engine.settings;
    // The user's leg is the caller's dialog once answered; until then a placeholder that
    // nothing is sent on (`caller_done`).
    let domain = &company.sip_domain;
    let user_uri = format!("sip:{}@{domain}", user.extension);
    let mut placeholder = Dialog::uac(
        settings.sip_address,
        settings.sip_address,
        format!("<sip:click-to-dial@{domain}>"),
        format!("<{user_uri}>"),
        user_uri,
    );
    let invite = placeholder.request(Method::Invite, &[], None);
    let Ok(invite_request) = Request::try_from(invite.bytes.as_slice()) else {
        let _ = reply.send(Err(ControlError::WrongState("the call cannot be set up".into())));
        return;
    };
    let (events_sender, events) = tokio::sync::mpsc::unbounded_channel();
    let mut call = Call::new(
        engine,
        placeholder,
        Box::new(invite_request),
        ServerTx(String::new()),
        events,
        events_sender,
        &company.id,
        &user.extension,
        &dialled,
    );
    call.caller_user = Some(user.extension.clone());
    call.caller_done = true;
    let span = tracing::info_span!("click-to-dial", call_id = %call.caller.call_id, company = %company.id);
    let _entered = span.enter();
    let ending = match call.ring_user(&company, &user, &dialled, reply).await {
        Some(ending) => ending,
        None => match call.extension_call(&company, &user.extension, &dialled) {
            Ok(Ok(ringing)) => {
                // The dialled number decided the direction (internal or outbound).
                call.report.describe(call.record.caller_name.as_deref(), call.record.direction);
                call.serve(&company, ringing, None).await.unwrap_or_else(|error| {
                    tracing::error!(%error, "click-to-dial failed inside the host");
                    Ending::new(CallStatus::Failed, error, None)
                })
            }
            Ok(Err(ending)) => ending,
            Err(error) => Ending::new(CallStatus::Failed, error, None),
        },
    };
    call.finish(ending).await;
}

impl Call {
    /// Click-to-dial rings the user's own phones: not an incoming call for them.
    pub(super) fn originating(&self) -> bool {
        self.ringing_user
    }

    /// The device that answers now becomes the call's caller (click-to-dial, or the
    /// calling user's transfer).
    pub(super) fn answer_makes_caller(&self) -> bool {
        self.ringing_user || self.new_caller
    }

    /// Ring `user`'s devices for a call to `dialled` and answer `reply` once they ring;
    /// `None` when one answered (the call goes on), else how it ended.
    async fn ring_user(
        &mut self,
        company: &Company,
        user: &User,
        dialled: &str,
        reply: tokio::sync::oneshot::Sender<Result<crate::events::ActiveCall, ControlError>>,
    ) -> Option<Ending> {
        let groups = match self.device_groups(company, &user.extension) {
            Ok(groups) if !groups.is_empty() => groups,
            Ok(_) => {
                let _ = reply.send(Err(ControlError::WrongState(format!(
                    "{} has no device registered",
                    user.extension
                ))));
                return Some(Ending::new(CallStatus::Failed, "the user has no device registered", None));
            }
            Err(error) => {
                let _ = reply.send(Err(ControlError::WrongState(error.clone())));
                return Some(Ending::new(CallStatus::Failed, error, None));
            }
        };
        let mut session = match self.engine.media.open().await {
            Ok(session) => session,
            Err(error) => {
                let _ = reply.send(Err(ControlError::WrongState(error.to_string())));
                return Some(Ending::new(CallStatus::Failed, error.to_string(), None));
            }
        };
        self.media_events = session.take_events();
        self.offer = sdp::host_offer(session.local(Side::A), OFFERED).to_bytes();
        self.media = Some(session);
        // Nothing answers the placeholder while the user's phones ring.
        self.host = Some(HostLeg::connected(OFFERED));
        self.ringing_user = true;
        self.report.describe(
            Some(&user.full_name).filter(|n| !n.is_empty()).map(String::as_str),
            Direction::Internal,
        );
        self.report.dialing(&user.extension);
        let from = format!("\"Call {dialled}\" <sip:{dialled}@{}>", company.sip_domain);
        let plan = ring::RingPlan {
            group_time: Some(self.engine.settings.group_ring_time),
            timeout: self.engine.settings.ring_timeout,
        };
        let _ = reply.send(Ok(self.report.call().clone()));
        let rung = self.ring(groups, &from, plan).await;
        self.ringing_user = false;
        rung
    }

    /// One of the user's phones answered the click-to-dial call with `response`: ACK it,
    /// cancel the others, and make its dialog the caller's. `Some` when the call cannot
    /// go on.
    pub(super) fn user_answered(&mut self, index: usize, response: &Response) -> Option<Ending> {
        let leg = &mut self.legs[index];
        leg.state = LegState::Answered;
        leg.dialog.on_response(response);
        let ack = leg.dialog.ack(leg.invite.cseq, None);
        let (call_id, id) = (leg.dialog.call_id.clone(), leg.id);
        self.send_request(ack, &call_id, id);
        self.origin_leg = Some(index);
        self.cancel_legs_except(Some(index));
        let answer = match sdp::parse(response.body()) {
            Ok(answer) => answer,
            Err(error) => {
                let bye = self.legs[index].dialog.request(Method::Bye, &[], None);
                self.send_request(bye, &call_id, id);
                return Some(Ending::new(CallStatus::Failed, format!("unusable SDP answer: {error}"), None));
            }
        };
        if let Some(media) = &self.media {
            media.set_remote(Side::A, answer.remote_rtp());
        }
        let codec = HostCodec {
            payload_type: ring::g711_of(&answer).unwrap_or(OFFERED.payload_type),
            telephone_event: answer.telephone_event(),
        };
        self.host = Some(HostLeg::connected(codec));
        self.caller = self.legs[index].dialog.clone();
        self.caller_done = false;
        self.legs[index].state = LegState::Done;
        None
    }
}
