//! Calls the host answers itself: IVR menus, voicemail, (later) queues. The host answers
//! the caller with one G.711 codec, plays prompts to it through the relay's side A and
//! hears its digits (RFC 4733 in the RTP, or SIP INFO). If the caller is later connected to
//! someone, the callee is offered that same codec and the relay joins them: the caller
//! keeps the one dialog and media stream it has.
//!
//! [`Call::wait`] is the host's ear: everything the caller does while the host has it —
//! a digit, the end of a prompt, hanging up, a re-INVITE — comes out of it as a [`Heard`].

use std::sync::Arc;

use super::*;
use crate::media::audio::{Audio, tone};
use crate::media::dtmf;
use crate::media::relay::{Listening, MediaEvent};
use crate::media::sdp::HostCodec;
use crate::media::track::Track;

/// The ringback tone a caller the host answered hears while its call rings on: 425 Hz,
/// one second on and four off (the European cadence, ITU-T E.180), made once.
pub(super) fn ringback() -> Audio {
    static RINGBACK: std::sync::OnceLock<Audio> = std::sync::OnceLock::new();
    RINGBACK
        .get_or_init(|| {
            let on = tone::sine(425.0, Duration::from_secs(1), RINGBACK_AMPLITUDE);
            let off = tone::silence(Duration::from_secs(4));
            Audio::from_samples([on.samples(), off.samples()].concat())
        })
        .clone()
}

/// About -16 dBm0: audible, well below clipping.
const RINGBACK_AMPLITUDE: i16 = 5000;

/// The host's side of a call it answered.
pub(super) struct HostLeg {
    pub(super) codec: HostCodec,
    /// Our 2xx to the caller, retransmitted until its ACK (§13.3.1.4): when and how often.
    ok: Vec<u8>,
    retransmit: Option<(Instant, Duration)>,
    ack_deadline: Instant,
    next_token: u64,
}

impl HostLeg {
    /// The host takes over a caller that was connected to another party (a transfer): its
    /// 2xx was acknowledged already.
    pub(super) fn connected(codec: HostCodec) -> HostLeg {
        HostLeg { codec, ok: Vec::new(), retransmit: None, ack_deadline: Instant::now(), next_token: 1 }
    }
}

/// What the host heard from the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Heard {
    Digit(char),
    /// The playback started with this token reached its end.
    PlaybackDone(u64),
    /// The deadline passed.
    Timeout,
    /// The caller is gone (BYE, or our 2xx was never acknowledged); why.
    HungUp(String),
}

/// What [`Call::collect`] gathered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Gathered {
    Digits(String),
    NoInput,
}

/// How digits are gathered after (or during) a prompt.
#[derive(Debug, Clone, Copy)]
pub(super) struct Gathering {
    /// Stop after this many digits; 0 = only play the prompt.
    pub(super) max_digits: u32,
    /// Wait this long for the first digit once the prompt ended.
    pub(super) timeout: Duration,
    /// Wait this long for each next digit.
    pub(super) inter_digit_timeout: Duration,
    /// `#` ends the entry (and is not part of it) once a digit was entered.
    pub(super) hash_ends: bool,
}

impl Call {
    /// Answer the caller from the host (if not done yet): our SDP answer with one G.711
    /// codec, side A listened to for digits. The error is how the call ends instead.
    pub(super) async fn answer_by_host(&mut self, offer: Option<&Sdp>) -> Result<(), Ending> {
        if self.host.is_some() {
            return Ok(());
        }
        let Some(offer) = offer else {
            // A delayed offer would need our offer in the 2xx and the answer in the ACK.
            self.respond_caller(488, None);
            return Err(Ending::new(
                CallStatus::Failed,
                "a host service needs an SDP offer in the INVITE",
                Some(488),
            ));
        };
        let codec = match offer.host_codec() {
            Ok(codec) => codec,
            Err(error) => {
                self.respond_caller(488, None);
                return Err(Ending::new(
                    CallStatus::Failed,
                    format!("unusable SDP offer: {error}"),
                    Some(488),
                ));
            }
        };
        let mut session = match self.media.take() {
            Some(session) => session,
            None => match self.engine.media.open().await {
                Ok(session) => session,
                Err(error) => {
                    tracing::warn!(%error, "no media for a host service");
                    self.respond_caller(503, None);
                    return Err(Ending::new(CallStatus::Failed, error.to_string(), Some(503)));
                }
            },
        };
        session.set_remote(Side::A, offer.remote_rtp());
        self.media_events = session.take_events();
        session.listen(Side::A, Listening { telephone_event: codec.telephone_event, track: None, tap: None });
        let answer = offer.host_answer(session.local(Side::A), codec).to_bytes();
        let ok = self.caller.response(&self.invite, 200, Some(&answer));
        self.send(Command::Respond { tx: self.invite_tx.clone(), status: 200, bytes: ok.clone() });
        self.record.answered();
        self.media = Some(session);
        let t1 = TimerConfig::default().t1;
        self.host = Some(HostLeg {
            codec,
            ok,
            retransmit: Some((Instant::now() + t1, t1)),
            ack_deadline: Instant::now() + t1 * 64,
            next_token: 1,
        });
        Ok(())
    }

    /// Play `items` to the caller (replacing what played); the token its end will carry.
    pub(super) fn play(&mut self, items: Vec<Audio>, repeat: bool) -> Option<u64> {
        let host = self.host.as_mut()?;
        let media = self.media.as_ref()?;
        let token = host.next_token;
        host.next_token += 1;
        media.play(Side::A, host.codec.payload_type, items, repeat, token);
        Some(token)
    }

    /// Play silence to the caller: what the host sends between prompts, so the caller's
    /// stream (and its NAT binding) never stops while the host has it.
    pub(super) fn play_silence(&mut self) {
        self.play(Vec::new(), false);
    }

    /// Record the caller from now on, at most `limit`; digits are still heard.
    pub(super) fn record_caller(&self, limit: Duration) -> Option<Arc<Track>> {
        let (host, media) = (self.host.as_ref()?, self.media.as_ref()?);
        let track = Arc::new(Track::new(Instant::now(), limit));
        media.listen(
            Side::A,
            Listening { telephone_event: host.codec.telephone_event, track: Some(track.clone()), tap: None },
        );
        Some(track)
    }

    /// Stop recording the caller (digits are still heard).
    pub(super) fn stop_recording(&self) {
        if let (Some(host), Some(media)) = (self.host.as_ref(), self.media.as_ref()) {
            media.listen(
                Side::A,
                Listening { telephone_event: host.codec.telephone_event, track: None, tap: None },
            );
        }
    }

    /// A prompt of the company by name (its upload, else the system default); a missing
    /// one is logged and skipped (silence), not a reason to drop the caller.
    pub(super) fn prompt(&self, company: &str, name: &str) -> Option<Audio> {
        let audio = self.engine.app.prompts.get(company, name);
        if audio.is_none() {
            tracing::warn!(prompt = name, "prompt not found; skipped");
        }
        audio
    }

    /// The next thing the caller does, or `Timeout` at `until`.
    pub(super) async fn wait(&mut self, until: Option<Instant>) -> Heard {
        enum Woke {
            Sip(Option<CallEvent>),
            Media(Option<MediaEvent>),
            Retransmit,
            Deadline,
            Control(crate::events::Control),
        }
        loop {
            let Some(host) = self.host.as_mut() else {
                return Heard::HungUp("the host does not hold the call".into());
            };
            let retransmit_at = host.retransmit.map(|(at, _)| at);
            let woke = tokio::select! {
                event = self.events.recv() => Woke::Sip(event),
                event = next_media_event(&mut self.media_events) => Woke::Media(event),
                () = sleep_until_opt(retransmit_at) => Woke::Retransmit,
                () = sleep_until_opt(until) => Woke::Deadline,
                Some(control) = self.control.recv() => Woke::Control(control),
            };
            match woke {
                Woke::Sip(None) => return Heard::HungUp("SIP endpoint stopped".into()),
                Woke::Sip(Some(event)) => {
                    if let Some(heard) = self.on_host_sip(event) {
                        return heard;
                    }
                }
                Woke::Media(Some(MediaEvent::Digit { side: Side::A, digit })) => return Heard::Digit(digit),
                Woke::Media(Some(MediaEvent::PlaybackDone { side: Side::A, token })) => {
                    return Heard::PlaybackDone(token);
                }
                Woke::Media(_) => {}
                Woke::Retransmit => {
                    let Some(host) = self.host.as_mut() else { continue };
                    if Instant::now() >= host.ack_deadline {
                        host.retransmit = None;
                        self.hang_up_caller();
                        return Heard::HungUp("no ACK from the caller".into());
                    }
                    let interval = host.retransmit.map_or(Duration::ZERO, |(_, interval)| interval);
                    let next = (interval * 2).min(TimerConfig::default().t2);
                    host.retransmit = Some((Instant::now() + next, next));
                    let ok = host.ok.clone();
                    self.send(Command::Respond { tx: self.invite_tx.clone(), status: 200, bytes: ok });
                }
                Woke::Deadline => return Heard::Timeout,
                Woke::Control(control) => {
                    if let Some(heard) = self.control_while_host_serves(control) {
                        return heard;
                    }
                }
            }
        }
    }

    /// A SIP event while the host has the caller.
    pub(super) fn on_host_sip(&mut self, event: CallEvent) -> Option<Heard> {
        let CallEvent::Request { tx, request, .. } = event else {
            // Responses (to our BYE), timeouts and a late CANCEL change nothing here.
            return None;
        };
        let Some(tx) = tx else {
            // An ACK: our 2xx arrived.
            if request.method == Method::Ack
                && let Some(host) = self.host.as_mut()
            {
                host.retransmit = None;
            }
            return None;
        };
        if !self.is_from_caller(&request) {
            self.refuse_early_request(Some(tx), &request);
            return None;
        }
        let respond = |call: &Call, status: u16, body: Option<&[u8]>| {
            let bytes = call.caller.response(&request, status, body);
            call.send(Command::Respond { tx: tx.clone(), status, bytes });
        };
        match request.method {
            Method::Bye => {
                respond(self, 200, None);
                self.caller_done = true;
                Some(Heard::HungUp("caller hung up".into()))
            }
            Method::Info => {
                let content_type = request
                    .headers
                    .iter()
                    .find_map(|header| match header {
                        rsip::Header::ContentType(value) => Some(value.value().to_string()),
                        _ => None,
                    })
                    .unwrap_or_default();
                let digit = dtmf::info_digit(&content_type, request.body());
                // RFC 6086: an INFO package we do not read is still answered 200 here, as
                // phones sending DTMF INFO expect (some without Info-Package).
                respond(self, 200, None);
                digit.map(Heard::Digit)
            }
            Method::Invite => {
                // A re-INVITE (hold, a new address): we keep our codec and answer again.
                self.caller.on_request(&request);
                match (sdp::parse(request.body()), self.media.as_ref(), self.host.as_ref()) {
                    (Ok(offer), Some(media), Some(host)) => {
                        media.set_remote(Side::A, offer.remote_rtp());
                        let answer = offer.host_answer(media.local(Side::A), host.codec).to_bytes();
                        respond(self, 200, Some(&answer));
                    }
                    _ => respond(self, 488, None),
                }
                None
            }
            Method::Options => {
                respond(self, 200, None);
                None
            }
            _ => {
                respond(self, 501, None);
                None
            }
        }
    }

    /// Send the caller BYE (the host is done with it).
    pub(super) fn hang_up_caller(&mut self) {
        if self.caller_done {
            return;
        }
        self.caller_done = true;
        let bye = self.caller.request(Method::Bye, &[], None);
        let call_id = self.caller.call_id.clone();
        self.send_request(bye, &call_id, CALLER_LEG);
    }

    /// Play `prompt` and gather digits as `how` says; a digit interrupts the prompt.
    pub(super) async fn collect(&mut self, prompt: Vec<Audio>, how: Gathering) -> Result<Gathered, String> {
        let token = if prompt.is_empty() { None } else { self.play(prompt, false) };
        let mut digits = String::new();
        let mut deadline = if token.is_some() { None } else { Some(Instant::now() + how.timeout) };
        if how.max_digits == 0 && token.is_none() {
            return Ok(Gathered::NoInput);
        }
        loop {
            match self.wait(deadline).await {
                Heard::Digit(digit) => {
                    if how.max_digits == 0 {
                        continue;
                    }
                    if digits.is_empty() {
                        // Barge-in: the first key stops the prompt.
                        self.play_silence();
                    }
                    if digit == '#' && how.hash_ends && !digits.is_empty() {
                        return Ok(Gathered::Digits(digits));
                    }
                    digits.push(digit);
                    if digits.len() >= how.max_digits as usize {
                        return Ok(Gathered::Digits(digits));
                    }
                    deadline = Some(Instant::now() + how.inter_digit_timeout);
                }
                Heard::PlaybackDone(done) if Some(done) == token && digits.is_empty() => {
                    if how.max_digits == 0 {
                        return Ok(Gathered::NoInput);
                    }
                    deadline = Some(Instant::now() + how.timeout);
                }
                Heard::PlaybackDone(_) => {}
                Heard::Timeout if digits.is_empty() => return Ok(Gathered::NoInput),
                Heard::Timeout => return Ok(Gathered::Digits(digits)),
                Heard::HungUp(cause) => return Err(cause),
            }
        }
    }

    /// Play `items` to the end (digits ignored); the error says the caller left.
    pub(super) async fn play_to_end(&mut self, items: Vec<Audio>) -> Result<(), String> {
        let how = Gathering {
            max_digits: 0,
            timeout: Duration::ZERO,
            inter_digit_timeout: Duration::ZERO,
            hash_ends: false,
        };
        self.collect(items, how).await.map(|_| ())
    }
}
