//! Who a call rings and as whom it is presented: an extension's call goes through the
//! company's permissions module and dial plan, a trunk's call through the DID's module.
//! A destination the host serves itself (an IVR menu, a voicemail box) is answered by the
//! host, and where the menu sends the caller is served next, up to [`MAX_DESTINATIONS`].

use super::queue::QueueOutcome;
use super::*;
use crate::store::records::{IvrMenu, Queue, Room, VoicemailBox};

/// Destinations one call may pass through (menu to menu to a box...): a loop of menus
/// configured by mistake must end.
const MAX_DESTINATIONS: usize = 16;
/// Time a caller lookup may take past the decision deadline: starting the module and
/// handing the answer back.
const LOOKUP_GRACE: Duration = Duration::from_millis(50);

/// Whom a call rings, or which host service takes it.
pub(super) enum Callee {
    /// The registered devices of an extension.
    Extension(Box<User>),
    /// A number outside, through the company's trunk.
    Outside(String),
    /// An IVR menu.
    Ivr(Box<IvrMenu>),
    /// A queue: the caller waits until an agent answers.
    Queue(Box<Queue>),
    /// A voicemail box, to leave a message.
    Voicemail(Box<VoicemailBox>),
    /// A voicemail box, to listen to its messages (after its PIN).
    VoicemailAccess(Box<VoicemailBox>),
    /// Take a call ringing elsewhere (the extension, or none = the caller's pickup groups).
    Pickup(Option<String>),
    /// A conference room's audio.
    Room(Box<Room>),
    /// End the call.
    HangUp,
}

/// Who a call rings, and as whom it is presented.
pub(super) struct Ringing {
    pub(super) callee: Callee,
    /// The display name the callee sees.
    pub(super) display: String,
    /// The caller id (From user) the callee sees; none = anonymous.
    pub(super) caller_id: Option<String>,
}

/// How long an outside number may ring: the far end (a mobile, a queue) decides.
pub(super) const OUTSIDE_RING_TIMEOUT: Duration = Duration::from_secs(120);

impl Call {
    /// Everything from the INVITE to the end of the call; the error is an internal failure.
    pub(super) async fn place(
        &mut self,
        caller: &Caller,
        company_id: &str,
        dialled: &str,
    ) -> Result<Ending, String> {
        let company: Option<Company> =
            self.engine.app.store.read(|r| r.get(&COMPANIES, company_id)).map_err(internal)?;
        let Some(company) = company else {
            return self.refuse(404, CallStatus::Failed, "company no longer exists");
        };
        // The caller's offer: G.711 only, media through the host. An INVITE without one
        // (a delayed offer, RFC 3261 §13.2.1) gets the callee's offer in our 2xx instead.
        let offer = if self.invite.body().is_empty() {
            None
        } else {
            match sdp::parse(self.invite.body()) {
                Ok(offer) => Some(offer),
                Err(error) => {
                    tracing::info!(%error, "caller's SDP refused");
                    return self.refuse(488, CallStatus::Failed, format!("unusable SDP offer: {error}"));
                }
            }
        };
        let ringing = match caller {
            Caller::Extension { extension, .. } => self.extension_call(&company, extension, dialled)?,
            Caller::Trunk { did, .. } => self.trunk_call(&company, did)?,
        };
        let ringing = match ringing {
            Ok(ringing) => ringing,
            Err(ending) => return Ok(ending),
        };
        self.report.describe(self.record.caller_name.as_deref(), self.record.direction);
        if let Some(user) = &self.caller_user {
            self.report.dialing(user);
        }
        if self.record.direction == Direction::Inbound {
            self.identify_caller(&company).await;
        }
        self.serve(&company, ringing, offer.as_ref()).await
    }

    /// Look the outside caller up (a CRM, through the company's call-events module) within
    /// the company's decision deadline: the contact shows in the Ringing event. A lookup
    /// that fails or overruns leaves the call without one, never stops it.
    async fn identify_caller(&mut self, company: &Company) {
        // Most companies have no call-events module: a store read tells, here, without
        // the hop to a blocking thread and back that the lookup itself needs (that hop
        // was a tenth of a millisecond or more on every inbound call's post-dial delay).
        let Some((owner, settings)) = crate::routing::call_events::settings_of(&self.engine.app, &company.id)
        else {
            return;
        };
        let call = self.call_input(company, &self.record.caller, &self.record.called);
        let app = self.engine.app.clone();
        let bound = Duration::from_millis(u64::from(company.decision_deadline_ms)) + LOOKUP_GRACE;
        let lookup = tokio::task::spawn_blocking(move || {
            crate::routing::call_events::identify_caller(&app, &owner, &settings, &call)
        });
        match tokio::time::timeout(bound, lookup).await {
            Ok(Ok(Some(contact))) => self.report.identified(contact),
            Ok(_) => {}
            Err(_) => {
                tracing::warn!("the caller lookup overran the decision deadline; the call goes on without it")
            }
        }
    }

    /// Play the DID rule's announcement, if any, then take the call to `ringing.callee`,
    /// and on through the destinations host services send it to.
    pub(super) async fn serve(
        &mut self,
        company: &Company,
        ringing: Ringing,
        offer: Option<&Sdp>,
    ) -> Result<Ending, String> {
        let Ringing { mut callee, display, caller_id } = ringing;
        if let Some(name) = self.announcement.take()
            && let Some(announcement) = self.prompt(&company.id, &name)
        {
            // The caller is answered to hear it; the destination then runs as after a menu.
            if let Err(ending) = self.answer_by_host(offer).await {
                return Ok(ending);
            }
            if let Err(cause) = self.play_to_end(vec![announcement]).await {
                return Ok(Ending::new(CallStatus::Answered, cause, None));
            }
        }
        for _ in 0..MAX_DESTINATIONS {
            let next = match callee {
                Callee::Extension(_) | Callee::Outside(_) => {
                    return self.ring_callee(company, Ringing { callee, display, caller_id }, offer).await;
                }
                Callee::HangUp => return Ok(self.hang_up_destination()),
                Callee::Pickup(wanted) => {
                    let picker = self.record.caller.clone();
                    return Ok(self.pick_up(company, &picker, wanted).await);
                }
                Callee::Voicemail(mailbox) => {
                    if let Err(ending) = self.answer_by_host(offer).await {
                        return Ok(ending);
                    }
                    return Ok(self.leave_voicemail(company, &mailbox).await);
                }
                Callee::VoicemailAccess(mailbox) => {
                    if let Err(ending) = self.answer_by_host(offer).await {
                        return Ok(ending);
                    }
                    return Ok(self.listen_to_voicemail(company, &mailbox).await);
                }
                Callee::Room(room) => {
                    if let Err(ending) = self.answer_by_host(offer).await {
                        return Ok(ending);
                    }
                    return Ok(self.join_room(company, &room).await);
                }
                Callee::Ivr(menu) => {
                    if let Err(ending) = self.answer_by_host(offer).await {
                        return Ok(ending);
                    }
                    match self.run_ivr(company, &menu).await {
                        Ok(destination) => destination,
                        Err(ending) => return Ok(ending),
                    }
                }
                Callee::Queue(queue) => {
                    if let Err(ending) = self.answer_by_host(offer).await {
                        return Ok(ending);
                    }
                    match self.wait_in_queue(company, &queue, &display, caller_id.as_deref()).await? {
                        QueueOutcome::Ended(ending) => return Ok(ending),
                        QueueOutcome::Next(destination) => destination,
                    }
                }
            };
            callee = match self.callee_for(company, &next)? {
                Ok(next) => next,
                Err(ending) => return Ok(ending),
            };
        }
        tracing::warn!("too many destinations in a row; hanging up");
        Ok(self.hang_up_destination())
    }

    /// A destination that ends the call: refused before an answer, hung up after.
    fn hang_up_destination(&mut self) -> Ending {
        if self.host.is_some() {
            self.hang_up_caller();
            return Ending::new(CallStatus::Answered, "the destination hangs up", Some(200));
        }
        // Before the host answers, only a DID's rule names a hang-up.
        self.respond_caller(603, None);
        Ending::new(CallStatus::Refused, "the DID's rule hangs up", Some(603))
    }

    /// Whom `destination` (a DID's or a menu's) names.
    fn callee_for(
        &mut self,
        company: &Company,
        destination: &Destination,
    ) -> Result<Result<Callee, Ending>, String> {
        let app = &self.engine.app;
        let key = |name: &str| company_key(&company.id, name);
        let gone = |what: &str| format!("the destination's {what} no longer exists");
        let found = match destination {
            Destination::Extension(extension) => {
                let user: Option<User> =
                    app.store.read(|r| r.get(&USERS, &key(extension))).map_err(internal)?;
                user.map(|user| Callee::Extension(Box::new(user))).ok_or_else(|| gone("extension"))
            }
            Destination::ExternalNumber(name) => {
                let number: Option<ExternalNumber> =
                    app.store.read(|r| r.get(&EXTERNAL_NUMBERS, &key(name))).map_err(internal)?;
                number.map(|number| Callee::Outside(number.number)).ok_or_else(|| gone("external number"))
            }
            Destination::Ivr(name) => crate::routing::ivr::find_by_name(app, &company.id, name)
                .map_err(internal)?
                .map(|menu| Callee::Ivr(Box::new(menu)))
                .ok_or_else(|| gone("IVR menu")),
            Destination::Queue(name) => crate::routing::queue::find_by_name(app, &company.id, name)
                .map_err(internal)?
                .map(|queue| Callee::Queue(Box::new(queue)))
                .ok_or_else(|| gone("queue")),
            Destination::Voicemail(name) => crate::voicemail::find_by_name(app, &company.id, name)
                .map_err(internal)?
                .map(|mailbox| Callee::Voicemail(Box::new(mailbox)))
                .ok_or_else(|| gone("voicemail box")),
            Destination::Conference(id) => crate::rooms::find_by_id(app, &company.id, id)
                .map_err(internal)?
                .map(|room| Callee::Room(Box::new(room)))
                .ok_or_else(|| gone("conference room")),
            Destination::HangUp => Ok(Callee::HangUp),
            other => Err(format!("destination {other:?} is not available yet")),
        };
        Ok(found.map_err(|cause| {
            tracing::warn!(%cause, "destination unusable");
            self.record.destination = Some(format!("{destination:?}"));
            if self.host.is_some() {
                self.hang_up_caller();
            } else {
                self.respond_caller(404, None);
            }
            Ending::new(CallStatus::Failed, cause, Some(404))
        }))
    }

    /// An extension's call: the permissions module decides, then the dial plan.
    pub(super) fn extension_call(
        &mut self,
        company: &Company,
        extension: &str,
        dialled: &str,
    ) -> Result<Result<Ringing, Ending>, String> {
        let store = &self.engine.app.store;
        let caller: Option<User> =
            store.read(|r| r.get(&USERS, &company_key(&company.id, extension))).map_err(internal)?;
        let Some(caller) = caller else {
            return self.refuse(403, CallStatus::Refused, "caller no longer exists").map(Err);
        };
        self.record.caller_name = Some(caller.full_name.clone()).filter(|n| !n.is_empty());
        self.recording_party(Side::A, &caller);

        let app = &self.engine.app;
        let mut target = dial_plan::resolve(app, &company.id, extension, dialled).map_err(internal)?;
        let kind = permissions::classify(dialled, |_| target.is_internal());
        self.record.direction =
            if kind == DialledKind::Internal { Direction::Internal } else { Direction::Outbound };
        let input = self.call_input(company, &caller.extension, dialled);
        let outcome = permissions::authorize(&self.engine.app, company, &caller, dialled, kind, &input)
            .map_err(internal)?;
        let caller_id = match &outcome.verdict {
            Verdict::Deny { reason } => {
                tracing::info!(%reason, "permissions module refused the call");
                return self.refuse(403, CallStatus::Refused, reason.clone()).map(Err);
            }
            // The policy may rewrite the number (e.g. strip an outside-line prefix).
            Verdict::Allow { dial, caller_id } => {
                if dial != dialled {
                    target = dial_plan::resolve(app, &company.id, extension, dial).map_err(internal)?;
                }
                caller_id.clone()
            }
        };
        let display = caller.full_name.clone();
        Ok(Ok(match target {
            Target::Extension(user) => {
                Ringing { callee: Callee::Extension(user), display, caller_id: Some(caller.extension) }
            }
            Target::Ivr(menu) => {
                Ringing { callee: Callee::Ivr(menu), display, caller_id: Some(caller.extension) }
            }
            Target::Pickup(wanted) => {
                Ringing { callee: Callee::Pickup(wanted), display, caller_id: Some(caller.extension) }
            }
            Target::Queue(queue) => {
                Ringing { callee: Callee::Queue(queue), display, caller_id: Some(caller.extension) }
            }
            Target::Voicemail(mailbox) => {
                Ringing { callee: Callee::Voicemail(mailbox), display, caller_id: Some(caller.extension) }
            }
            Target::VoicemailAccess(mailbox) => Ringing {
                callee: Callee::VoicemailAccess(mailbox),
                display,
                caller_id: Some(caller.extension),
            },
            Target::Room(room) => {
                Ringing { callee: Callee::Room(room), display, caller_id: Some(caller.extension) }
            }
            // Outside, the policy's caller id (a company DID, or anonymous) is shown.
            Target::External(number) => Ringing { callee: Callee::Outside(number), display, caller_id },
            Target::Unknown => return self.refuse(404, CallStatus::Failed, "no such number").map(Err),
        }))
    }

    /// A call from the trunk to one of the company's DIDs: the DID's module decides.
    pub(super) fn trunk_call(
        &mut self,
        company: &Company,
        number: &str,
    ) -> Result<Result<Ringing, Ending>, String> {
        let store = &self.engine.app.store;
        self.record.direction = Direction::Inbound;
        let from = self.invite.from_header().map(|f| f.value().to_string()).unwrap_or_default();
        let display = crate::sip::dialog::without_params(&from);
        let display = display.split('<').next().unwrap_or_default().trim().trim_matches('"').to_string();
        self.record.caller_name = Some(display).filter(|d| !d.is_empty());
        let did: Option<Did> =
            store.read(|r| r.get(&DIDS, &company_key(&company.id, number))).map_err(internal)?;
        let Some(did) = did else {
            return self.refuse(404, CallStatus::Failed, "DID no longer exists").map(Err);
        };
        let input = self.call_input(company, &self.record.caller.clone(), number);
        let outcome = route_did(&self.engine.app, company, &did, &input).map_err(internal)?;
        let decision = outcome.decision;
        self.announcement = decision.announcement.clone();
        let callee = match self.callee_for(company, &decision.destination)? {
            Ok(callee) => callee,
            Err(ending) => return Ok(Err(ending)),
        };
        let display = match (&decision.caller_id_prefix, &self.record.caller_name) {
            (Some(prefix), Some(name)) => format!("{prefix} {name}"),
            (Some(prefix), None) => format!("{prefix} {}", self.record.caller),
            (None, Some(name)) => name.clone(),
            (None, None) => String::new(),
        };
        Ok(Ok(Ringing { callee, display, caller_id: Some(self.record.caller.clone()) }))
    }
}
