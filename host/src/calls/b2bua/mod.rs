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
//!
//! Destinations the host serves itself — IVR menus, voicemail — are answered by the host
//! ([`host`]); where they send the caller next is rung with the caller already answered.

mod consult;
mod control;
mod host;
mod ivr;
mod originate;
mod pickup;
mod queue;
mod record;
mod refer;
mod ring;
mod room;
mod route;
mod talk;
mod transfer;
mod voicemail;

pub(super) use originate::run as click_to_dial;

use host::{Heard, HostLeg};
use record::Recorder;
use ring::{Leg, LegState};

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use rsip::prelude::*;
use rsip::{Method, Request, Response};
use tokio::sync::mpsc::UnboundedReceiver;

use super::CallEngine;
use super::dial_plan::{self, Target};
use super::presence::InCall;
use super::record::Draft;
use super::ringing;
use super::targets::RingTarget;
use crate::events::{CallReporter, Control};
use crate::media::relay::{MediaEvent, RelaySession, Side};
use crate::media::sdp::{self, Sdp};
use crate::routing::call::{CallInput, Direction};
use crate::routing::did::route_did;
use crate::routing::permissions::{self, DialledKind, Verdict};
use crate::sip::dialog::{Dialog, Outgoing, cseq_number};
use crate::sip::endpoint::tu::{CallEvent, CallEvents, Caller, Command, LegId, NewCall, ServerTx};
use crate::sip::message::uri_user;
use crate::sip::transaction::TimerConfig;
use crate::store::records::{CallStatus, Company, Destination, Did, ExternalNumber, RecordingSettings, User};
use crate::store::{COMPANIES, DIDS, EXTERNAL_NUMBERS, Read, StoreError, USERS, company_key};

/// The caller's leg, in responses routed to us (our requests to the caller: BYE, re-INVITE).
const CALLER_LEG: LegId = 0;
/// How long cancelled legs are waited for before the task ends (timer B: 64·T1).
const DRAIN_TIME: Duration = Duration::from_secs(32);

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
    /// Our 2xx to the winner when it was the one to send INVITE (a picker), with its
    /// transaction: retransmitted until its ACK too (§13.3.1.4).
    winner_answer: Option<(ServerTx, Vec<u8>)>,
    /// The SDP offer the callee legs get (the caller's, through the relay).
    offer: Vec<u8>,
    /// Max-Forwards for the legs: one less than the caller's.
    hops_left: u8,
    /// The ACK sent for the winner's 2xx, sent again if the 2xx is retransmitted; none
    /// while a delayed offer waits for the caller's answer.
    winner_ack: Option<Outgoing>,
    /// Set once the host answered the caller itself (IVR, voicemail).
    host: Option<HostLeg>,
    /// What the media session reports (digits, prompts played), once it is open.
    media_events: Option<UnboundedReceiver<MediaEvent>>,
    /// The G.711 payload type both legs use once connected (for what the host plays).
    codec: Option<u8>,
    /// Recording settings of the parties and the recording in progress.
    recorder: Recorder,
    /// The caller's dialog is over: it sent BYE, or we did.
    caller_done: bool,
    /// The extensions of the connected call, in a call (for queues) while this lives.
    in_call: Vec<InCall>,
    /// A queue agent who answered, and its wrap-up time after the call.
    rest_after: Option<(String, Duration)>,
    /// While an extension rings: open to pickup by another.
    pickup_slot: Option<super::pickup::PickupSlot>,
    /// This call (a pickup) handed itself to the call it picked up, which goes on.
    handed_over: bool,
    /// The prompt a DID's rule plays before its destination (SPEC §2).
    announcement: Option<String>,
    /// When the callee hangs up, keep the (host-answered) caller for what comes next: a
    /// queue's destination after the agent.
    keep_caller: bool,
    /// The callee hung up first and the caller was kept.
    callee_left: bool,
    /// Headers the legs' INVITEs carry (a queue's auto-answer request).
    leg_headers: Vec<(&'static str, String)>,
    /// What CTI clients see of the call (SPEC §12).
    report: CallReporter,
    /// Commands from CTI clients (hang up, hold ...).
    control: UnboundedReceiver<Control>,
    /// The calling extension, when a user placed the call.
    caller_user: Option<String>,
    /// Click-to-dial: the leg that rang the user, whose dialog became the caller's.
    origin_leg: Option<usize>,
    /// Click-to-dial, while the user's devices ring.
    ringing_user: bool,
    /// A calling user's transfer, while the new party's devices ring.
    new_caller: bool,
    /// While devices ring: the From of their INVITEs and the group ringing now, for legs
    /// added later (a pickup through the API).
    ring_from: String,
    ring_group: usize,
    /// The user who asked to pick the ringing call up through the API.
    picker: Option<String>,
    /// An attended transfer's consult, while it goes on.
    consult: Option<consult::Consult>,
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
    let mut call =
        Call::new(engine, dialog, request, tx, events, events_sender, &company, &calling, &dialled);
    call.hops_left = hops_left;
    if let Caller::Extension { extension, .. } = &caller {
        call.caller_user = Some(extension.clone());
    }
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

/// An internal failure (the store could not be read, the relay could not open).
fn internal(error: impl std::fmt::Display) -> String {
    error.to_string()
}

impl Call {
    /// A call between `calling` and `dialled` of `company`, whose first leg is `caller`
    /// (answered on `invite_tx`), reported to CTI clients from now on.
    #[allow(clippy::too_many_arguments)]
    fn new(
        engine: Arc<CallEngine>,
        caller: Dialog,
        invite: Box<Request>,
        invite_tx: ServerTx,
        events: UnboundedReceiver<CallEvent>,
        events_sender: CallEvents,
        company: &str,
        calling: &str,
        dialled: &str,
    ) -> Call {
        let (report, control) =
            CallReporter::open(engine.app.events.clone(), company, &caller.call_id, calling, dialled);
        Call {
            record: Draft::new(company, &caller.call_id, calling, dialled),
            engine,
            caller,
            invite,
            invite_tx,
            events,
            events_sender,
            legs: Vec::new(),
            media: None,
            ringing_sent: false,
            winner: None,
            answer: None,
            winner_answer: None,
            offer: Vec::new(),
            hops_left: crate::sip::dialog::DEFAULT_MAX_FORWARDS,
            winner_ack: None,
            host: None,
            media_events: None,
            codec: None,
            recorder: Recorder::default(),
            caller_done: false,
            in_call: Vec::new(),
            rest_after: None,
            pickup_slot: None,
            handed_over: false,
            announcement: None,
            keep_caller: false,
            callee_left: false,
            leg_headers: Vec::new(),
            report,
            control,
            caller_user: None,
            origin_leg: None,
            ringing_user: false,
            new_caller: false,
            ring_from: String::new(),
            ring_group: 0,
            picker: None,
            consult: None,
        }
    }

    pub(super) fn send(&self, command: Command) {
        self.engine.send(command);
    }

    /// Answer the caller's INVITE; nothing once the host answered it (the caller has our 2xx).
    pub(super) fn respond_caller(&self, status: u16, body: Option<&[u8]>) {
        if self.host.is_some() {
            return;
        }
        let bytes = self.caller.response(&self.invite, status, body);
        self.send(Command::Respond { tx: self.invite_tx.clone(), status, bytes });
    }

    pub(super) fn send_request(&self, request: Outgoing, call_id: &str, leg: LegId) {
        self.send(Command::Send {
            request,
            call_id: call_id.to_string(),
            leg,
            events: self.events_sender.clone(),
        });
    }

    /// Answer the caller with `status` and end the call as `status` with `cause`.
    pub(super) fn refuse(
        &self,
        status: u16,
        call_status: CallStatus,
        cause: impl Into<String>,
    ) -> Result<Ending, String> {
        self.respond_caller(status, None);
        Ok(Ending::new(call_status, cause, Some(status)))
    }

    pub(super) fn call_input(&self, company: &Company, caller: &str, dialled: &str) -> CallInput {
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

    /// Wait for cancelled legs that still owe us a provisional response (to CANCEL them)
    /// or a 2xx (to hang them up) and write the CDR; the endpoint forgets the call when
    /// this returns.
    pub(super) async fn finish(mut self, ending: Ending) {
        if self.handed_over {
            // The picked-up call owns the picker's dialog now, its CDR and its end.
            return;
        }
        if self.host.is_some() {
            // Answered by the host and not connected on (no answer, busy, a failure).
            self.hang_up_caller();
        }
        self.in_call.clear();
        if let Some((agent, wrap_up)) = self.rest_after.take() {
            self.engine.presence.rest(&self.record.company, &agent, wrap_up);
        }
        self.report.hung_up(ending.status.cause());
        let recording = self.save_recording().await;
        let mut cdr = self.record.finish(ending.status, &ending.cause, ending.sip_status);
        cdr.recording = recording;
        // The company's call-events module hears of every ended call (a missed-call mail);
        // it runs off this task and fills in the company's time zone itself.
        let ended = CallInput {
            call_id: self.caller.call_id.clone(),
            company: cdr.company.clone(),
            caller: cdr.caller.clone(),
            caller_name: cdr.caller_name.clone(),
            called: cdr.called.clone(),
            direction: cdr.direction,
            at: cdr.started_at,
            time_zone: String::new(),
            random_seed: None,
        };
        crate::routing::call_events::call_ended(&self.engine.app, ended, &cdr);
        self.engine.cdrs.write(cdr);
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
        // The endpoint forgets the call when its events channel closes, as this returns.
    }
}

fn cseq_method_is(response: &Response, method: &str) -> bool {
    response
        .cseq_header()
        .is_ok_and(|c| c.value().split_whitespace().nth(1).is_some_and(|m| m.eq_ignore_ascii_case(method)))
}

/// The next media event, or never when there is no session (yet).
async fn next_media_event(events: &mut Option<UnboundedReceiver<MediaEvent>>) -> Option<MediaEvent> {
    match events {
        Some(events) => events.recv().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
