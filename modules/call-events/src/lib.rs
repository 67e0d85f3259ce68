//! The standard call-events module (SPEC.md §13), run when a company names it in its
//! call-events settings. It sends the missed-call mail:
//!
//! 1. `on-ended` reads the config ([`settings`]); a malformed one is an error, so the
//!    host logs, counts and audits it where the admin sees it.
//! 2. A call counts as missed when nobody answered it, it came into the company (from
//!    outside or from a colleague, not one of the company's own outgoing calls), and no
//!    policy refused it (a refused call was never offered to anyone).
//! 3. The mail goes to the address configured for the called number (or for every
//!    number), with the caller's number and name, the number called, when it came in (in
//!    the company's time zone), how long it rang and why it ended.
//!
//! 4. `on-event` posts each call-state event as JSON to the config's `webhooks` URLs
//!    (the host grants the module those hosts only); a URL that fails makes the event an
//!    error, and the host tries it again later.
//!
//! `identify-caller` finds nobody: a CRM module implements that (see `examples/`).

use guest_sdk::call_events::{CallEvent, CallEvents, Cdr, Contact, EventKind};
use guest_sdk::http;
use guest_sdk::mail::{self, Message};
use guest_sdk::types::{CallContext, Direction};

pub mod settings;

use settings::Settings;

/// The module's decision type.
pub struct StandardCallEvents;

impl CallEvents for StandardCallEvents {
    fn identify_caller(_call: CallContext, _config: String) -> Result<Option<Contact>, String> {
        Ok(None)
    }

    fn on_event(event: CallEvent, config: String) -> Result<(), String> {
        let settings = Settings::from_json(&config)?;
        if settings.webhooks.is_empty() {
            return Ok(());
        }
        let body = event_json(&event);
        let failed: Vec<String> = settings
            .webhooks
            .iter()
            .filter_map(|url| post(url, &body).err().map(|why| format!("{url}: {why}")))
            .collect();
        if failed.is_empty() { Ok(()) } else { Err(format!("webhook failed: {}", failed.join("; "))) }
    }

    fn on_ended(call: CallContext, cdr: Cdr, config: String) -> Result<(), String> {
        let settings = Settings::from_json(&config)?;
        if !is_missed(&cdr) {
            return Ok(());
        }
        let Some(to) = settings.address_for(&cdr.destination) else {
            return Ok(());
        };
        let message = missed_call_mail(&call, &cdr, to);
        mail::send(&message).map_err(|why| format!("missed-call mail to {to} refused: {why}"))?;
        guest_sdk::log::info(&format!("missed call from {} mailed to {to}", cdr.origin));
        Ok(())
    }
}

guest_sdk::export_call_observer!(StandardCallEvents);

/// Give a webhook this long to answer (the host cuts it to the time left).
const WEBHOOK_TIMEOUT_MS: u32 = 3000;

/// POST `body` to `url`; an error unless it answers 2xx.
fn post(url: &str, body: &str) -> Result<(), String> {
    let request = http::Request {
        method: "POST".into(),
        url: url.into(),
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.as_bytes().to_vec(),
        timeout_ms: WEBHOOK_TIMEOUT_MS,
    };
    match http::fetch(&request) {
        Ok(response) if (200..300).contains(&response.status) => Ok(()),
        Ok(response) => Err(format!("answered {}", response.status)),
        Err(error) => Err(format!("{error:?}")),
    }
}

/// The event as the webhook's JSON body (the same fields as the host's event stream).
pub fn event_json(event: &CallEvent) -> String {
    let kind = match event.kind {
        EventKind::Dialing => "dialing",
        EventKind::Ringing => "ringing",
        EventKind::Connected => "connected",
        EventKind::Held => "held",
        EventKind::Resumed => "resumed",
        EventKind::TransferPending => "transfer_pending",
        EventKind::Consulting => "consulting",
        EventKind::Transferred => "transferred",
        EventKind::HungUp => "hung_up",
    };
    serde_json::json!({
        "event": kind,
        "call_id": event.call_id,
        "caller": event.caller,
        "called": event.called,
        "user": event.user,
        "at_ms": event.at_ms,
        "cause": event.cause,
    })
    .to_string()
}

/// Nobody answered a call that came into the company and was offered to someone.
pub fn is_missed(cdr: &Cdr) -> bool {
    cdr.answered_ms.is_none() && cdr.direction != Direction::Outbound && cdr.cause != "refused"
}

/// The mail for a missed call `cdr` (in `call`'s context) to `to`.
pub fn missed_call_mail(call: &CallContext, cdr: &Cdr, to: &str) -> Message {
    let caller = one_line(&cdr.origin);
    let called = one_line(&cdr.destination);
    let who = match call.caller_name.as_deref().map(one_line).filter(|name| !name.is_empty()) {
        Some(name) => format!("{name} ({caller})"),
        None => caller.clone(),
    };
    let t = &call.local_time;
    let offset = t.utc_offset_minutes;
    let when = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} {} (UTC{}{:02}:{:02})",
        t.year,
        t.month,
        t.day,
        t.hour,
        t.minute,
        t.second,
        call.time_zone,
        if offset < 0 { '-' } else { '+' },
        offset.unsigned_abs() / 60,
        offset.unsigned_abs() % 60,
    );
    let rang_s = (cdr.ended_ms - cdr.started_ms).max(0) / 1000;
    let body = format!(
        "You missed a call.\n\nFrom: {who}\nTo: {called}\nWhen: {when}\nRang for: {rang_s} s\nWhy it ended: {}\nCall id: {}\n",
        why(&cdr.cause),
        one_line(&cdr.call_id),
    );
    Message {
        to: vec![to.to_string()],
        subject: format!("Missed call from {who} to {called}"),
        body,
        attachments: Vec::new(),
    }
}

/// The cause of a call's end in words.
fn why(cause: &str) -> String {
    match cause {
        "caller-cancel" => "the caller hung up before anyone answered".to_string(),
        "no-answer" => "nobody answered".to_string(),
        "busy" => "the line was busy".to_string(),
        "failed" => "the call could not be put through".to_string(),
        other => one_line(other),
    }
}

/// `text` without line breaks or other control characters (it goes into a subject line).
fn one_line(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect::<String>().trim().to_string()
}

#[cfg(test)]
mod tests;
