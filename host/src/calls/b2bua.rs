//! One call through the B2BUA, from the caller's INVITE to the CDR.
//!
//! 1. Setup: the caller's SDP offer is parsed and the media relay opened (both legs see
//!    only the host's address); the dialled number is resolved (extension, alias or
//!    outside number) and the company's `permissions` module asked.
//! 2. Ringing: the callee's contacts ring in groups (SPEC §8). The first 2xx wins; the
//!    other legs get CANCEL (§9.1: only after their first provisional response) or, if
//!    they answered too, ACK and BYE. Busy, declined, the ring timeout and the caller's
//!    CANCEL end the call unanswered.
//! 3. Talking: BYE from either side ends the call; re-INVITEs (hold, resume) are relayed
//!    with their SDP rewritten for the other leg. Our 2xx to the caller is retransmitted
//!    until its ACK arrives (§13.3.1.4).
//! 4. The end: the CDR is handed to the writer and the endpoint forgets the call.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use rsip::prelude::*;
use rsip::{Method, Request, Response};
use tokio::sync::mpsc::UnboundedReceiver;

use super::CallEngine;
use super::dial_plan::{self, Target};
use super::record::Draft;
use super::ringing;
use super::targets::RingTarget;
use crate::media::relay::{RelaySession, Side};
use crate::media::sdp::{self, Sdp};
use crate::routing::call::{CallInput, Direction};
use crate::routing::did::route_did;
use crate::routing::permissions::{self, DialledKind, Verdict};
use crate::sip::dialog::{Dialog, Outgoing, cseq_number};
use crate::sip::endpoint::tu::{CallEvent, CallEvents, Caller, Command, LegId, NewCall, ServerTx};
use crate::sip::message::uri_user;
use crate::sip::transaction::TimerConfig;
use crate::store::records::{CallStatus, Company, Destination, Did, ExternalNumber, User};
use crate::store::{COMPANIES, DEVICES, DIDS, EXTERNAL_NUMBERS, Read, USERS, company_key, devices_prefix};

/// The caller's leg, in responses routed to us (our requests to the caller: BYE, re-INVITE).
const CALLER_LEG: LegId = 0;
/// How long cancelled legs are waited for before the task ends (timer B: 64·T1).
const DRAIN_TIME: Duration = Duration::from_secs(32);

/// Where a device leg is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LegState {
    /// INVITE sent, nothing heard yet.
    Calling,
    /// A provisional response came: it may be cancelled.
    Early,
    /// It answered.
    Answered,
    /// It ended (final non-2xx response, timeout, or hung up after a lost race).
    Done,
}

struct Leg {
    id: LegId,
    dialog: Dialog,
    invite: Outgoing,
    state: LegState,
    /// CANCEL it as soon as it sends a provisional response.
    cancel_wanted: bool,
    status: Option<u16>,
    group: usize,
    /// What to answer a provider's challenge with.
    credentials: Option<(String, String)>,
    /// Whether the INVITE was already sent again with credentials.
    authenticated: bool,
}

/// How the groups of a call ring.
#[derive(Debug, Clone, Copy)]
struct RingPlan {
    /// How long each group rings before the next takes over (devices); none = a group
    /// gives way only when it fails (trunks).
    group_time: Option<Duration>,
    /// How long the whole call may ring.
    timeout: Duration,
}

/// How the call ends, for the CDR.
struct Ending {
    status: CallStatus,
    cause: String,
    sip_status: Option<u16>,
}

impl Ending {
    fn new(status: CallStatus, cause: impl Into<String>, sip_status: Option<u16>) -> Ending {
        Ending { status, cause: cause.into(), sip_status }
    }
}

/// A re-INVITE relayed from one leg to the other, waiting for the other's answer.
struct PendingReinvite {
    from_caller: bool,
    tx: ServerTx,
    request: Box<Request>,
    sent_cseq: u32,
}

struct Call {
    engine: Arc<CallEngine>,
    /// The caller's dialog (we are its UAS).
    caller: Dialog,
    invite: Box<Request>,
    invite_tx: ServerTx,
    events: UnboundedReceiver<CallEvent>,
    events_sender: CallEvents,
    legs: Vec<Leg>,
    media: Option<RelaySession>,
    record: Draft,
    ringing_sent: bool,
    /// The leg that answered.
    winner: Option<usize>,
    /// Our 2xx to the caller, retransmitted until its ACK.
    answer: Option<Vec<u8>>,
    /// The SDP offer the callee legs get (the caller's, through the relay).
    offer: Vec<u8>,
    /// Max-Forwards for the legs: one less than the caller's.
    hops_left: u8,
    /// The ACK sent for the winner's 2xx, sent again if the 2xx is retransmitted; none
    /// while a delayed offer waits for the caller's answer.
    winner_ack: Option<Outgoing>,
}

/// Run the call `new_call` to its end.
pub(super) async fn run(engine: Arc<CallEngine>, new_call: NewCall) {
    let NewCall { request, source, tx, caller, events, events_sender } = new_call;
    let Some(dialog) = Dialog::uas(&request, source, engine.settings.sip_address) else {
        // The endpoint admitted it, so From/To/Call-ID parsed; answer anyway if not.
        let bytes = crate::sip::message::reply(&request, source, 400, Vec::new()).to_string().into_bytes();
        engine.send(Command::Respond { tx, status: 400, bytes });
        return;
    };
    let dialled = uri_user(&request.uri.to_string()).unwrap_or_default();
    let hops_left = crate::sip::dialog::max_forwards(&request)
        .unwrap_or(crate::sip::dialog::DEFAULT_MAX_FORWARDS)
        .saturating_sub(1);
    let (company, calling) = match &caller {
        Caller::Extension { company, extension } => (company.clone(), extension.clone()),
        Caller::Trunk { company, .. } => {
            let from = request.from_header().map(|f| f.value().to_string()).unwrap_or_default();
            (company.clone(), uri_user(&from).unwrap_or_else(|| "anonymous".to_string()))
        }
    };
    let mut call = Call {
        record: Draft::new(&company, &dialog.call_id, &calling, &dialled),
        engine,
        caller: dialog,
        invite: request,
        invite_tx: tx,
        events,
        events_sender,
        legs: Vec::new(),
        media: None,
        ringing_sent: false,
        winner: None,
        answer: None,
        offer: Vec::new(),
        hops_left,
        winner_ack: None,
    };
    let span = tracing::info_span!("call", call_id = %call.caller.call_id, %company);
    let _entered = span.enter();
    let ending = match call.place(&caller, &company, &dialled).await {
        Ok(ending) => ending,
        Err(error) => {
            tracing::error!(%error, "call failed inside the host");
            call.respond_caller(500, None);
            Ending::new(CallStatus::Failed, error, Some(500))
        }
    };
    call.finish(ending).await;
}

/// Whom a call rings.
enum Callee {
    /// The registered devices of an extension.
    Extension(Box<User>),
    /// A number outside, through the company's trunk.
    Outside(String),
}

/// Who a call rings, and as whom it is presented.
struct Ringing {
    callee: Callee,
    /// The display name the callee sees.
    display: String,
    /// The caller id (From user) the callee sees; none = anonymous.
    caller_id: Option<String>,
}

/// How long an outside number may ring: the far end (a mobile, a queue) decides.
const OUTSIDE_RING_TIMEOUT: Duration = Duration::from_secs(120);

/// An internal failure (the store could not be read, the relay could not open).
fn internal(error: impl std::fmt::Display) -> String {
    error.to_string()
}

impl Call {
    fn send(&self, command: Command) {
        self.engine.send(command);
    }

    fn respond_caller(&self, status: u16, body: Option<&[u8]>) {
        let bytes = self.caller.response(&self.invite, status, body);
        self.send(Command::Respond { tx: self.invite_tx.clone(), status, bytes });
    }

    fn send_request(&self, request: Outgoing, call_id: &str, leg: LegId) {
        self.send(Command::Send {
            request,
            call_id: call_id.to_string(),
            leg,
            events: self.events_sender.clone(),
        });
    }

    /// Answer the caller with `status` and end the call as `status` with `cause`.
    fn refuse(
        &self,
        status: u16,
        call_status: CallStatus,
        cause: impl Into<String>,
    ) -> Result<Ending, String> {
        self.respond_caller(status, None);
        Ok(Ending::new(call_status, cause, Some(status)))
    }

    fn call_input(&self, company: &Company, caller: &str, dialled: &str) -> CallInput {
        CallInput {
            call_id: self.caller.call_id.clone(),
            company: company.id.clone(),
            caller: caller.to_string(),
            caller_name: self.record.caller_name.clone(),
            called: dialled.to_string(),
            direction: self.record.direction,
            at: chrono::Utc::now(),
            time_zone: company.time_zone.clone(),
            random_seed: None,
        }
    }

    /// Everything from the INVITE to the end of the call; the error is an internal failure.
    async fn place(&mut self, caller: &Caller, company_id: &str, dialled: &str) -> Result<Ending, String> {
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
    fn extension_call(
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
    fn trunk_call(&mut self, company: &Company, number: &str) -> Result<Result<Ringing, Ending>, String> {
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

    /// Ring `ringing.callee` (its devices, or the trunk) with the caller's `offer` and run
    /// the call.
    async fn ring_callee(
        &mut self,
        company: &Company,
        ringing: Ringing,
        offer: Option<&Sdp>,
    ) -> Result<Ending, String> {
        let settings = self.engine.settings;
        let (groups, domain, plan) = match &ringing.callee {
            Callee::Extension(callee) => {
                self.record.destination = Some(format!("extension {}", callee.extension));
                let store = &self.engine.app.store;
                let bindings =
                    self.engine.app.registrar.bindings(&company.id, &callee.extension, SystemTime::now());
                let devices = store
                    .read(|r| r.scan(&DEVICES, &devices_prefix(&company.id, &callee.extension)))
                    .map_err(internal)?;
                let groups: Vec<Vec<RingTarget>> = ringing::plan(bindings, &devices)
                    .iter()
                    .map(|group| {
                        group
                            .iter()
                            .map(|b| RingTarget::device(b, &callee.extension, &company.sip_domain))
                            .collect()
                    })
                    .collect();
                if groups.is_empty() {
                    return self.refuse(480, CallStatus::NoAnswer, "no device registered");
                }
                let plan =
                    RingPlan { group_time: Some(settings.group_ring_time), timeout: settings.ring_timeout };
                (groups, company.sip_domain.clone(), plan)
            }
            Callee::Outside(number) => {
                self.record.destination = Some(number.clone());
                let Some(first) = company.trunk.as_ref().or(company.secondary_trunk.as_ref()) else {
                    return self.refuse(503, CallStatus::Failed, "no trunk for outside calls");
                };
                // The primary trunk, then the secondary when the first fails (SPEC §1).
                let mut groups = Vec::new();
                for trunk in [&company.trunk, &company.secondary_trunk].into_iter().flatten() {
                    match RingTarget::through_trunk(number, trunk).await {
                        Ok(target) => groups.push(vec![target]),
                        Err(error) => tracing::warn!(%error, "trunk unusable"),
                    }
                }
                if groups.is_empty() {
                    return self.refuse(503, CallStatus::Failed, "no trunk reachable");
                }
                let plan = RingPlan { group_time: None, timeout: OUTSIDE_RING_TIMEOUT };
                (groups, first.domain.trim().trim_start_matches("sip:").to_string(), plan)
            }
        };
        let from = match &ringing.caller_id {
            Some(user) => format!("\"{}\" <sip:{user}@{domain}>", ringing.display.replace('"', "")),
            None => "\"Anonymous\" <sip:anonymous@anonymous.invalid>".to_string(),
        };

        let session = self.engine.media.open().await.map_err(internal)?;
        if let Some(offer) = offer {
            session.set_remote(Side::A, offer.remote_rtp());
            self.offer = offer.relayed(session.local(Side::B)).map_err(internal)?.to_bytes();
        }
        self.media = Some(session);

        match self.ring(groups, &from, plan).await {
            Some(ending) => Ok(ending),
            None => Ok(self.talk().await),
        }
    }

    fn start_leg(&mut self, group: usize, target: &RingTarget, from: &str) {
        let id = self.legs.len() as LegId + 1;
        let mut dialog = Dialog::uac(
            self.engine.settings.sip_address,
            target.dest,
            from.to_string(),
            target.to.clone(),
            target.uri.clone(),
        )
        .over(target.transport)
        .with_max_forwards(self.hops_left);
        let invite = dialog.request(Method::Invite, &[], Some(&self.offer));
        self.send_request(invite.clone(), &dialog.call_id.clone(), id);
        self.legs.push(Leg {
            id,
            dialog,
            invite,
            state: LegState::Calling,
            cancel_wanted: false,
            status: None,
            group,
            credentials: target.credentials.clone(),
            authenticated: false,
        });
    }

    /// A provider challenged leg `index`'s INVITE (401/407): send it again with our
    /// credentials, once. True when it was sent.
    fn answer_challenge(&mut self, index: usize, response: &Response, status: u16) -> bool {
        let leg = &mut self.legs[index];
        let Some((username, password)) = leg.credentials.clone().filter(|_| !leg.authenticated) else {
            return false;
        };
        let challenges: Vec<String> = response
            .headers
            .iter()
            .filter_map(|h| match h {
                rsip::Header::WwwAuthenticate(c) if status == 401 => Some(c.value().to_string()),
                rsip::Header::ProxyAuthenticate(c) if status == 407 => Some(c.value().to_string()),
                _ => None,
            })
            .collect();
        let uri = leg.dialog.remote_target.clone();
        let cnonce = crate::sip::dialog::token();
        let Some(answer) = challenges.iter().find_map(|challenge| {
            crate::sip::digest::answer_challenge(challenge, &username, &password, "INVITE", &uri, &cnonce)
                .ok()
        }) else {
            tracing::warn!(status, "the provider's challenge cannot be answered");
            return false;
        };
        let header = if status == 401 { "Authorization" } else { "Proxy-Authorization" };
        leg.authenticated = true;
        leg.invite = leg.dialog.request(Method::Invite, &[(header, answer)], Some(&self.offer));
        leg.state = LegState::Calling;
        let (invite, call_id, id) = (leg.invite.clone(), leg.dialog.call_id.clone(), leg.id);
        self.send_request(invite, &call_id, id);
        true
    }

    fn cancel_leg(&mut self, index: usize) {
        let leg = &mut self.legs[index];
        match leg.state {
            LegState::Early => {
                let cancel = leg.dialog.cancel(&leg.invite);
                leg.cancel_wanted = false;
                let call_id = leg.dialog.call_id.clone();
                let id = leg.id;
                self.send_request(cancel, &call_id, id);
            }
            // §9.1: wait for a provisional response before cancelling.
            LegState::Calling => leg.cancel_wanted = true,
            LegState::Answered | LegState::Done => {}
        }
    }

    fn cancel_legs_except(&mut self, keep: Option<usize>) {
        for index in 0..self.legs.len() {
            if Some(index) != keep {
                self.cancel_leg(index);
            }
        }
    }

    fn leg_index(&self, id: LegId) -> Option<usize> {
        self.legs.iter().position(|l| l.id == id)
    }

    /// ACK a device's 2xx and hang it up: it answered after another device won.
    fn ack_and_bye(&mut self, index: usize, response: &Response) {
        let leg = &mut self.legs[index];
        leg.dialog.on_response(response);
        let ack = leg.dialog.ack(leg.invite.cseq, None);
        let bye = leg.dialog.request(Method::Bye, &[], None);
        leg.state = LegState::Done;
        let (call_id, id) = (leg.dialog.call_id.clone(), leg.id);
        self.send_request(ack, &call_id, id);
        self.send_request(bye, &call_id, id);
    }

    /// Handle a device leg's response to its INVITE while ringing or after; returns the
    /// index of the leg when this is the answer that wins the call.
    fn on_leg_invite_response(&mut self, index: usize, response: &Response) -> Option<usize> {
        let status = u16::from(response.status_code.clone());
        let state = self.legs[index].state;
        match status {
            101..=199 if state == LegState::Calling || state == LegState::Early => {
                self.legs[index].state = LegState::Early;
                self.legs[index].dialog.on_response(response);
                if self.legs[index].cancel_wanted {
                    self.cancel_leg(index);
                } else if !self.ringing_sent && self.winner.is_none() {
                    self.ringing_sent = true;
                    self.respond_caller(180, None);
                }
                None
            }
            200..=299 => {
                if self.winner == Some(index) {
                    // A retransmitted 2xx: our ACK was lost (or, with a delayed offer, is
                    // still waiting for the caller's answer).
                    if let Some(ack) = self.winner_ack.clone() {
                        let leg = &self.legs[index];
                        self.send_request(ack, &leg.dialog.call_id.clone(), leg.id);
                    }
                    None
                } else if self.winner.is_some()
                    || self.legs[index].state == LegState::Done
                    || self.legs[index].cancel_wanted
                {
                    self.ack_and_bye(index, response);
                    None
                } else {
                    Some(index)
                }
            }
            401 | 407 if state != LegState::Answered && self.answer_challenge(index, response, status) => {
                None
            }
            300.. if state != LegState::Answered => {
                let leg = &mut self.legs[index];
                leg.state = LegState::Done;
                leg.status = Some(status);
                None
            }
            _ => None,
        }
    }

    /// Ring the groups in turn. `None` when a device answered (the call is connected),
    /// else how the call ended.
    async fn ring(&mut self, groups: Vec<Vec<RingTarget>>, from: &str, plan: RingPlan) -> Option<Ending> {
        let overall = Instant::now() + plan.timeout;
        let group_count = groups.len();
        for (group, targets) in groups.iter().enumerate() {
            for target in targets {
                self.start_leg(group, target, from);
            }
            let last = group + 1 == group_count;
            let deadline = match plan.group_time {
                Some(time) if !last => overall.min(Instant::now() + time),
                _ => overall,
            };
            loop {
                let in_group_active = self.legs.iter().any(|l| l.group == group && l.state != LegState::Done);
                if !in_group_active {
                    break;
                }
                let event = tokio::select! {
                    event = self.events.recv() => event,
                    () = tokio::time::sleep_until(deadline.into()) => {
                        self.cancel_legs_except(None);
                        if last || Instant::now() >= overall {
                            self.respond_caller(480, None);
                            return Some(Ending::new(CallStatus::NoAnswer, "ring timeout", Some(480)));
                        }
                        break;
                    }
                };
                let Some(event) = event else {
                    return Some(Ending::new(CallStatus::Failed, "SIP endpoint stopped", None));
                };
                match event {
                    CallEvent::Cancelled => {
                        self.respond_caller(487, None);
                        self.cancel_legs_except(None);
                        return Some(Ending::new(CallStatus::Cancelled, "caller cancelled", Some(487)));
                    }
                    CallEvent::Response { leg, response } => {
                        let Some(index) = self.leg_index(leg) else { continue };
                        if cseq_method_is(&response, "INVITE")
                            && let Some(winner) = self.on_leg_invite_response(index, &response)
                        {
                            if let Some(ending) = self.connect(winner, &response) {
                                return Some(ending);
                            }
                            return None;
                        }
                    }
                    CallEvent::Timeout { leg } => {
                        if let Some(index) = self.leg_index(leg)
                            && self.legs[index].state != LegState::Answered
                        {
                            self.legs[index].state = LegState::Done;
                            self.legs[index].status.get_or_insert(408);
                        }
                    }
                    CallEvent::Request { tx: Some(tx), request, .. }
                        if request.method == Method::Bye && self.is_from_caller(&request) =>
                    {
                        // §15: the caller may end its early dialog with BYE; like a CANCEL.
                        let bytes = self.caller.response(&request, 200, None);
                        self.send(Command::Respond { tx, status: 200, bytes });
                        self.respond_caller(487, None);
                        self.cancel_legs_except(None);
                        return Some(Ending::new(
                            CallStatus::Cancelled,
                            "caller hung up while ringing",
                            Some(487),
                        ));
                    }
                    CallEvent::Request { tx, request, .. } => self.refuse_early_request(tx, &request),
                }
            }
        }
        let statuses: Vec<u16> = self.legs.iter().filter_map(|l| l.status).collect();
        let status = ringing::final_status(&statuses);
        self.respond_caller(status, None);
        let call_status = if status == 486 { CallStatus::Busy } else { CallStatus::NoAnswer };
        let cause = format!("{status}: every leg failed ({statuses:?})");
        Some(Ending::new(call_status, cause, Some(status)))
    }

    fn is_from_caller(&self, request: &Request) -> bool {
        request.call_id_header().is_ok_and(|id| id.value() == self.caller.call_id)
    }

    /// Other requests before the answer get 481: no confirmed dialog exists yet. (A device
    /// cannot end its early dialog with BYE, §15; it declines with a final response.)
    fn refuse_early_request(&self, tx: Option<ServerTx>, request: &Request) {
        if let Some(tx) = tx {
            let status = 481;
            let bytes = crate::sip::message::reply(request, self.caller.peer, status, Vec::new())
                .to_string()
                .into_bytes();
            self.send(Command::Respond { tx, status, bytes });
        }
    }

    /// Device leg `index` answered with `response`: ACK it, hand its SDP answer to the
    /// caller through the relay, cancel the others. `Some` when the call cannot go on.
    fn connect(&mut self, index: usize, response: &Response) -> Option<Ending> {
        self.winner = Some(index);
        let delayed_offer = self.offer.is_empty();
        let leg = &mut self.legs[index];
        leg.state = LegState::Answered;
        leg.dialog.on_response(response);
        let (call_id, id) = (leg.dialog.call_id.clone(), leg.id);
        if !delayed_offer {
            let ack = leg.dialog.ack(leg.invite.cseq, None);
            self.winner_ack = Some(ack.clone());
            self.send_request(ack, &call_id, id);
        }
        self.cancel_legs_except(Some(index));
        let answer = sdp::parse(response.body()).and_then(|answer| {
            let media = self.media.as_ref().expect("media is opened before ringing");
            media.set_remote(Side::B, answer.remote_rtp());
            answer.relayed(media.local(Side::A))
        });
        match answer {
            Ok(answer) => {
                self.record.answered();
                let ok = self.caller.response(&self.invite, 200, Some(&answer.to_bytes()));
                self.send(Command::Respond { tx: self.invite_tx.clone(), status: 200, bytes: ok.clone() });
                self.answer = Some(ok);
                None
            }
            Err(error) => {
                tracing::warn!(%error, "the device's SDP answer is unusable");
                if delayed_offer {
                    let ack = self.legs[index].dialog.ack(self.legs[index].invite.cseq, None);
                    self.send_request(ack, &call_id, id);
                }
                let bye = self.legs[index].dialog.request(Method::Bye, &[], None);
                self.send_request(bye, &call_id, id);
                self.respond_caller(488, None);
                Some(Ending::new(CallStatus::Failed, format!("unusable SDP answer: {error}"), Some(488)))
            }
        }
    }

    /// The connected call, until a BYE or a lost ACK ends it.
    async fn talk(&mut self) -> Ending {
        let timers = TimerConfig::default();
        let Some(winner) = self.winner else {
            return Ending::new(CallStatus::Failed, "no answer to connect", None);
        };
        let ok = self.answer.clone().unwrap_or_default();
        // §13.3.1.4: retransmit the 2xx at T1, doubling to T2, until the ACK, for 64·T1.
        let mut retransmit = Some((Instant::now() + timers.t1, timers.t1));
        let ack_deadline = Instant::now() + timers.t1 * 64;
        let mut pending: Option<PendingReinvite> = None;
        loop {
            let wake = retransmit.map(|(at, _)| at);
            let event = tokio::select! {
                event = self.events.recv() => event,
                () = sleep_until_opt(wake) => {
                    let Some((_, interval)) = retransmit else { continue };
                    if Instant::now() >= ack_deadline {
                        self.hang_up_both(winner);
                        return Ending::new(CallStatus::Answered, "no ACK from the caller", None);
                    }
                    self.send(Command::Respond { tx: self.invite_tx.clone(), status: 200, bytes: ok.clone() });
                    let next = (interval * 2).min(timers.t2);
                    retransmit = Some((Instant::now() + next, next));
                    continue;
                }
            };
            let Some(event) = event else {
                return Ending::new(CallStatus::Answered, "SIP endpoint stopped", None);
            };
            match event {
                CallEvent::Request { tx, request, .. } => {
                    let from_caller = self.is_from_caller(&request);
                    match (request.method, tx) {
                        (Method::Ack, _) => {
                            if from_caller && retransmit.take().is_some() && self.winner_ack.is_none() {
                                // A delayed offer: the caller's answer is in its ACK.
                                if let Err(cause) = self.complete_delayed_offer(winner, &request) {
                                    self.hang_up_both(winner);
                                    return Ending::new(CallStatus::Answered, cause, None);
                                }
                            }
                        }
                        (Method::Bye, Some(tx)) => {
                            self.respond_in_dialog(from_caller, winner, tx, &request, 200, None);
                            let (other_dialog_leg, cause) = if from_caller {
                                (Some(winner), "caller hung up")
                            } else {
                                (None, "callee hung up")
                            };
                            match other_dialog_leg {
                                Some(index) => {
                                    let leg = &mut self.legs[index];
                                    let bye = leg.dialog.request(Method::Bye, &[], None);
                                    let (call_id, id) = (leg.dialog.call_id.clone(), leg.id);
                                    self.send_request(bye, &call_id, id);
                                }
                                None => {
                                    let bye = self.caller.request(Method::Bye, &[], None);
                                    let call_id = self.caller.call_id.clone();
                                    self.send_request(bye, &call_id, CALLER_LEG);
                                }
                            }
                            return Ending::new(CallStatus::Answered, cause, Some(200));
                        }
                        (Method::Invite, Some(tx)) => {
                            if pending.is_some() {
                                // §14.2: a re-INVITE while ours is pending.
                                self.respond_in_dialog(from_caller, winner, tx, &request, 491, None);
                                continue;
                            }
                            match self.relay_reinvite(from_caller, winner, &request) {
                                Ok(sent_cseq) => {
                                    pending = Some(PendingReinvite { from_caller, tx, request, sent_cseq })
                                }
                                Err(status) => {
                                    self.respond_in_dialog(from_caller, winner, tx, &request, status, None)
                                }
                            }
                        }
                        (Method::Info | Method::Options | Method::Update, Some(tx)) => {
                            // DTMF over INFO reaches the decision points with the media
                            // services; until then it is acknowledged.
                            let status = if request.method == Method::Update { 501 } else { 200 };
                            self.respond_in_dialog(from_caller, winner, tx, &request, status, None);
                        }
                        (_, Some(tx)) => self.respond_in_dialog(from_caller, winner, tx, &request, 501, None),
                        (_, None) => {}
                    }
                }
                CallEvent::Response { leg, response } => {
                    let is_invite = cseq_method_is(&response, "INVITE");
                    let cseq = cseq_number(&response.headers);
                    let for_pending = pending.as_ref().is_some_and(|p| {
                        is_invite && Some(p.sent_cseq) == cseq && (leg == CALLER_LEG) != p.from_caller
                    });
                    if for_pending {
                        let status = u16::from(response.status_code.clone());
                        if status < 200 {
                            continue;
                        }
                        // Just checked: a re-INVITE is pending.
                        let done = pending.take().expect("pending re-INVITE");
                        self.complete_reinvite(done, winner, &response);
                    } else if is_invite && let Some(index) = self.leg_index(leg) {
                        self.on_leg_invite_response(index, &response);
                    }
                }
                CallEvent::Timeout { leg } => {
                    if let Some(p) = pending.take_if(|p| (leg == CALLER_LEG) != p.from_caller) {
                        self.respond_in_dialog(p.from_caller, winner, p.tx, &p.request, 408, None);
                    }
                }
                CallEvent::Cancelled => {}
            }
        }
    }

    fn respond_in_dialog(
        &self,
        from_caller: bool,
        winner: usize,
        tx: ServerTx,
        request: &Request,
        status: u16,
        body: Option<&[u8]>,
    ) {
        let dialog = if from_caller { &self.caller } else { &self.legs[winner].dialog };
        let bytes = dialog.response(request, status, body);
        self.send(Command::Respond { tx, status, bytes });
    }

    /// Send the other leg a re-INVITE with `request`'s SDP rewritten for it; the CSeq it
    /// was sent with, or the status to refuse `request` with.
    fn relay_reinvite(&mut self, from_caller: bool, winner: usize, request: &Request) -> Result<u32, u16> {
        let media = self.media.as_ref().ok_or(500u16)?;
        let (own, other) = if from_caller { (Side::A, Side::B) } else { (Side::B, Side::A) };
        let body = if request.body().is_empty() {
            None
        } else {
            let offer = sdp::parse(request.body()).map_err(|_| 488u16)?;
            media.set_remote(own, offer.remote_rtp());
            Some(offer.relayed(media.local(other)).map_err(|_| 488u16)?.to_bytes())
        };
        if from_caller {
            self.caller.on_request(request);
            let leg = &mut self.legs[winner];
            let reinvite = leg.dialog.request(Method::Invite, &[], body.as_deref());
            let (call_id, id, cseq) = (leg.dialog.call_id.clone(), leg.id, reinvite.cseq);
            self.send_request(reinvite, &call_id, id);
            Ok(cseq)
        } else {
            self.legs[winner].dialog.on_request(request);
            let reinvite = self.caller.request(Method::Invite, &[], body.as_deref());
            let (call_id, cseq) = (self.caller.call_id.clone(), reinvite.cseq);
            self.send_request(reinvite, &call_id, CALLER_LEG);
            Ok(cseq)
        }
    }

    /// The other leg answered our relayed re-INVITE: ACK a 2xx and answer the original.
    fn complete_reinvite(&mut self, pending: PendingReinvite, winner: usize, response: &Response) {
        let status = u16::from(response.status_code.clone());
        let (own, other) = if pending.from_caller { (Side::A, Side::B) } else { (Side::B, Side::A) };
        let mut body = None;
        if (200..300).contains(&status) {
            let dialog = if pending.from_caller { &self.legs[winner].dialog } else { &self.caller };
            let ack = dialog.ack(pending.sent_cseq, None);
            let (call_id, leg) = if pending.from_caller {
                (self.legs[winner].dialog.call_id.clone(), self.legs[winner].id)
            } else {
                (self.caller.call_id.clone(), CALLER_LEG)
            };
            self.send_request(ack, &call_id, leg);
            if let (Some(media), Ok(answer)) = (self.media.as_ref(), sdp::parse(response.body())) {
                media.set_remote(other, answer.remote_rtp());
                body = answer.relayed(media.local(own)).ok().map(|s| s.to_bytes());
            }
        }
        self.respond_in_dialog(
            pending.from_caller,
            winner,
            pending.tx,
            &pending.request,
            status,
            body.as_deref(),
        );
    }

    /// With a delayed offer, the caller's ACK carries the answer to the device's offer:
    /// relay it in the ACK the device has been waiting for. Without a usable answer the
    /// device is still ACKed (its 2xx must end) and the error says why the call ends.
    fn complete_delayed_offer(&mut self, winner: usize, ack: &Request) -> Result<(), String> {
        let answer =
            sdp::parse(ack.body()).map_err(|e| format!("no usable SDP answer in the caller's ACK: {e}"));
        let relayed = answer.and_then(|answer| {
            let media = self.media.as_ref().ok_or_else(|| "no media session".to_string())?;
            media.set_remote(Side::A, answer.remote_rtp());
            answer.relayed(media.local(Side::B)).map_err(|e| e.to_string())
        });
        let leg = &self.legs[winner];
        let body = relayed.as_ref().ok().map(|sdp| sdp.to_bytes());
        let to_device = leg.dialog.ack(leg.invite.cseq, body.as_deref());
        self.winner_ack = Some(to_device.clone());
        self.send_request(to_device, &leg.dialog.call_id.clone(), leg.id);
        relayed.map(|_| ())
    }

    fn hang_up_both(&mut self, winner: usize) {
        let bye = self.caller.request(Method::Bye, &[], None);
        let call_id = self.caller.call_id.clone();
        self.send_request(bye, &call_id, CALLER_LEG);
        let leg = &mut self.legs[winner];
        let bye = leg.dialog.request(Method::Bye, &[], None);
        let (call_id, id) = (leg.dialog.call_id.clone(), leg.id);
        self.send_request(bye, &call_id, id);
    }

    /// Wait for cancelled legs that still owe us a provisional response (to CANCEL them)
    /// or a 2xx (to hang them up), write the CDR, and let the endpoint forget the call.
    async fn finish(mut self, ending: Ending) {
        self.engine.cdrs.write(self.record.finish(ending.status, &ending.cause, ending.sip_status));
        self.media = None;
        let deadline = Instant::now() + DRAIN_TIME;
        while self.legs.iter().any(|l| l.cancel_wanted || l.state == LegState::Early) {
            let event = tokio::select! {
                event = self.events.recv() => event,
                () = tokio::time::sleep_until(deadline.into()) => None,
            };
            match event {
                Some(CallEvent::Response { leg, response }) if cseq_method_is(&response, "INVITE") => {
                    if let Some(index) = self.leg_index(leg)
                        && self.on_leg_invite_response(index, &response).is_some()
                    {
                        self.ack_and_bye(index, &response);
                    }
                }
                Some(CallEvent::Timeout { leg }) => {
                    if let Some(index) = self.leg_index(leg) {
                        self.legs[index].state = LegState::Done;
                        self.legs[index].cancel_wanted = false;
                    }
                }
                Some(CallEvent::Request { tx, request, .. }) => self.refuse_early_request(tx, &request),
                Some(_) => {}
                None => break,
            }
        }
        let mut call_ids = vec![self.caller.call_id.clone()];
        call_ids.extend(self.legs.iter().map(|l| l.dialog.call_id.clone()));
        self.send(Command::Finished { call_ids });
    }
}

fn cseq_method_is(response: &Response, method: &str) -> bool {
    response
        .cseq_header()
        .is_ok_and(|c| c.value().split_whitespace().nth(1).is_some_and(|m| m.eq_ignore_ascii_case(method)))
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
