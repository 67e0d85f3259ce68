//! Who a call rings and as whom it is presented: an extension's call goes through the
//! company's permissions module and dial plan, a trunk's call through the DID's module.

use super::*;

/// Whom a call rings.
pub(super) enum Callee {
    /// The registered devices of an extension.
    Extension(Box<User>),
    /// A number outside, through the company's trunk.
    Outside(String),
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
        self.ring_callee(&company, ringing, offer.as_ref()).await
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

        let mut target = dial_plan::resolve(store, &company.id, dialled).map_err(internal)?;
        let kind = permissions::classify(dialled, |_| matches!(target, Target::Extension(_)));
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
                    target = dial_plan::resolve(store, &company.id, dial).map_err(internal)?;
                }
                caller_id.clone()
            }
        };
        let display = caller.full_name.clone();
        Ok(Ok(match target {
            Target::Extension(user) => {
                Ringing { callee: Callee::Extension(user), display, caller_id: Some(caller.extension) }
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
        let callee = match &decision.destination {
            Destination::Extension(extension) => {
                let user: Option<User> =
                    store.read(|r| r.get(&USERS, &company_key(&company.id, extension))).map_err(internal)?;
                match user {
                    Some(user) => Callee::Extension(Box::new(user)),
                    None => {
                        return self
                            .refuse(404, CallStatus::Failed, "the DID's extension no longer exists")
                            .map(Err);
                    }
                }
            }
            Destination::ExternalNumber(name) => {
                let number: Option<ExternalNumber> = store
                    .read(|r| r.get(&EXTERNAL_NUMBERS, &company_key(&company.id, name)))
                    .map_err(internal)?;
                match number {
                    Some(number) => Callee::Outside(number.number),
                    None => {
                        let cause = "the DID's external number no longer exists";
                        return self.refuse(404, CallStatus::Failed, cause).map(Err);
                    }
                }
            }
            Destination::HangUp => {
                return self.refuse(603, CallStatus::Refused, "the DID's rule hangs up").map(Err);
            }
            other => {
                // Queues, IVRs, voicemail and rooms come with the media services and WebRTC work.
                self.record.destination = Some(format!("{other:?}"));
                let cause = format!("destination {other:?} is not available yet");
                return self.refuse(480, CallStatus::Failed, cause).map(Err);
            }
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
