//! Ringing: the callee's devices (or trunks) in groups, provisional responses relayed,
//! the first answer connected and the other legs cancelled or hung up.

use super::route::{Callee, OUTSIDE_RING_TIMEOUT, Ringing};
use super::*;

/// Where a device leg is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LegState {
    /// INVITE sent, nothing heard yet.
    Calling,
    /// A provisional response came: it may be cancelled.
    Early,
    /// It answered.
    Answered,
    /// It ended (final non-2xx response, timeout, or hung up after a lost race).
    Done,
}

pub(super) struct Leg {
    pub(super) id: LegId,
    pub(super) dialog: Dialog,
    pub(super) invite: Outgoing,
    pub(super) state: LegState,
    /// CANCEL it as soon as it sends a provisional response.
    pub(super) cancel_wanted: bool,
    /// A CANCEL went out for its INVITE: one CANCEL per INVITE transaction (RFC 3261
    /// §9.1), however many times the call gives up on the leg before its 487 comes.
    pub(super) cancel_sent: bool,
    pub(super) status: Option<u16>,
    pub(super) group: usize,
    /// What to answer a provider's challenge with.
    pub(super) credentials: Option<(String, String)>,
    /// Whether the INVITE was already sent again with credentials.
    pub(super) authenticated: bool,
    /// The extension rung; none through a trunk.
    pub(super) extension: Option<String>,
}

/// How the groups of a call ring.
#[derive(Debug, Clone, Copy)]
pub(super) struct RingPlan {
    /// How long each group rings before the next takes over (devices); none = a group
    /// gives way only when it fails (trunks).
    pub(super) group_time: Option<Duration>,
    /// How long the whole call may ring.
    pub(super) timeout: Duration,
}

impl Call {
    /// Ring `ringing.callee` (its devices, or the trunk) with the caller's `offer` and run
    /// the call.
    pub(super) async fn ring_callee(
        &mut self,
        company: &Company,
        ringing: Ringing,
        offer: Option<&Sdp>,
    ) -> Result<Ending, String> {
        let (group_ring_time, ring_timeout) =
            (self.engine.settings.group_ring_time, self.engine.settings.ring_timeout);
        let (groups, domain, plan) = match &ringing.callee {
            Callee::Extension(callee) => {
                self.record.destination = Some(format!("extension {}", callee.extension));
                self.recording_party(Side::B, callee);
                let groups = self.device_groups(company, &callee.extension)?;
                if groups.is_empty() {
                    return self.refuse(480, CallStatus::NoAnswer, "no device registered");
                }
                self.pickup_slot = Some(self.engine.pickups.open(&company.id, &[callee.extension.as_str()]));
                let plan = RingPlan { group_time: Some(group_ring_time), timeout: ring_timeout };
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
            // `serve` takes these itself; none rings a device.
            Callee::Ivr(_)
            | Callee::Queue(_)
            | Callee::Voicemail(_)
            | Callee::VoicemailAccess(_)
            | Callee::Pickup(_)
            | Callee::Room(_)
            | Callee::HangUp => {
                return Err(internal("a host service cannot be rung"));
            }
        };
        let from = match &ringing.caller_id {
            Some(user) => format!("\"{}\" <sip:{user}@{domain}>", ringing.display.replace('"', "")),
            None => "\"Anonymous\" <sip:anonymous@anonymous.invalid>".to_string(),
        };

        if let Some(host) = &self.host {
            // The host answered the caller: the callee gets the caller's codec, and the
            // caller hears ringback until it answers.
            let session = self.media.as_ref().ok_or_else(|| internal("the host's call has no media"))?;
            self.offer = sdp::host_offer(session.local(Side::B), host.codec).to_bytes();
            self.play(vec![host::ringback()], true);
        } else {
            let mut session = self.engine.media.open().await.map_err(internal)?;
            self.media_events = session.take_events();
            if let Some(offer) = offer {
                session.set_remote(Side::A, offer.remote_rtp());
                self.offer = offer.relayed(session.local(Side::B)).map_err(internal)?.to_bytes();
            }
            self.media = Some(session);
        }

        let rung = self.ring(groups, &from, plan).await;
        self.pickup_slot = None;
        match rung {
            Some(ending) => Ok(ending),
            None => Ok(self.talk().await),
        }
    }

    /// The registered devices of `extension`, in the groups they ring in (SPEC §8).
    pub(super) fn device_groups(
        &self,
        company: &Company,
        extension: &str,
    ) -> Result<Vec<Vec<RingTarget>>, String> {
        Ok(ringing::extension_plan(&self.engine.app, &company.id, extension)
            .map_err(internal)?
            .iter()
            .map(|group| {
                group.iter().map(|b| RingTarget::device(b, extension, &company.sip_domain)).collect()
            })
            .collect())
    }

    pub(super) fn start_leg(&mut self, group: usize, target: &RingTarget, from: &str) {
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
        let invite = dialog.request(Method::Invite, &self.leg_headers, Some(&self.offer));
        self.send_request(invite.clone(), &dialog.call_id.clone(), id);
        self.legs.push(Leg {
            id,
            dialog,
            invite,
            state: LegState::Calling,
            cancel_wanted: false,
            cancel_sent: false,
            status: None,
            group,
            credentials: target.credentials.clone(),
            authenticated: false,
            extension: target.extension.clone(),
        });
    }

    /// A provider challenged leg `index`'s INVITE (401/407): send it again with our
    /// credentials, once. True when it was sent.
    pub(super) fn answer_challenge(&mut self, index: usize, response: &Response, status: u16) -> bool {
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
        leg.cancel_sent = false;
        leg.invite = leg.dialog.request(Method::Invite, &[(header, answer)], Some(&self.offer));
        leg.state = LegState::Calling;
        let (invite, call_id, id) = (leg.invite.clone(), leg.dialog.call_id.clone(), leg.id);
        self.send_request(invite, &call_id, id);
        true
    }

    pub(super) fn cancel_leg(&mut self, index: usize) {
        let leg = &mut self.legs[index];
        match leg.state {
            LegState::Early if leg.cancel_sent => {}
            LegState::Early => {
                let cancel = leg.dialog.cancel(&leg.invite);
                leg.cancel_wanted = false;
                leg.cancel_sent = true;
                let call_id = leg.dialog.call_id.clone();
                let id = leg.id;
                self.send_request(cancel, &call_id, id);
            }
            // §9.1: wait for a provisional response before cancelling.
            LegState::Calling => leg.cancel_wanted = true,
            LegState::Answered | LegState::Done => {}
        }
    }

    pub(super) fn cancel_legs_except(&mut self, keep: Option<usize>) {
        for index in 0..self.legs.len() {
            if Some(index) != keep {
                self.cancel_leg(index);
            }
        }
    }

    pub(super) fn leg_index(&self, id: LegId) -> Option<usize> {
        self.legs.iter().position(|l| l.id == id)
    }

    /// ACK a device's 2xx and hang it up: it answered after another device won.
    pub(super) fn ack_and_bye(&mut self, index: usize, response: &Response) {
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
    pub(super) fn on_leg_invite_response(&mut self, index: usize, response: &Response) -> Option<usize> {
        let status = u16::from(response.status_code.clone());
        let state = self.legs[index].state;
        match status {
            101..=199 if state == LegState::Calling || state == LegState::Early => {
                self.legs[index].state = LegState::Early;
                self.legs[index].dialog.on_response(response);
                // Click-to-dial rings the user's own phone first: not an incoming call.
                if let Some(user) = self.legs[index].extension.as_ref().filter(|_| !self.originating()) {
                    self.report.ringing(user);
                }
                if self.legs[index].cancel_wanted {
                    self.cancel_leg(index);
                } else if !self.ringing_sent && self.winner.is_none() {
                    self.ringing_sent = true;
                    self.respond_caller(180, None);
                }
                None
            }
            200..=299 if self.origin_leg == Some(index) => {
                // The user's phone of a click-to-dial call: our ACK was lost.
                let leg = &self.legs[index];
                let ack = leg.dialog.ack(leg.invite.cseq, None);
                self.send_request(ack, &leg.dialog.call_id.clone(), leg.id);
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
    pub(super) async fn ring(
        &mut self,
        groups: Vec<Vec<RingTarget>>,
        from: &str,
        plan: RingPlan,
    ) -> Option<Ending> {
        let overall = Instant::now() + plan.timeout;
        let group_count = groups.len();
        self.ring_from = from.to_string();
        for (group, targets) in groups.iter().enumerate() {
            self.ring_group = group;
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
                    Some(control) = self.control.recv() => {
                        match self.control_while_ringing(control) {
                            Some(ending) => return Some(ending),
                            None => continue,
                        }
                    }
                    Some(pickup) = super::pickup::next_pickup(&mut self.pickup_slot) => {
                        match self.accept_pickup(pickup) {
                            Some(rung) => return rung,
                            None => continue,
                        }
                    }
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
                            if self.answer_makes_caller() {
                                return self.user_answered(winner, &response);
                            }
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
                        self.caller_done = true;
                        self.respond_caller(487, None);
                        self.cancel_legs_except(None);
                        return Some(Ending::new(
                            CallStatus::Cancelled,
                            "caller hung up while ringing",
                            Some(487),
                        ));
                    }
                    CallEvent::Request { tx, request, source }
                        if self.host.is_some() && self.is_from_caller(&request) =>
                    {
                        // The host answered the caller (a queue, after a menu): its INFO,
                        // OPTIONS, re-INVITE and ACK are answered as while a prompt plays;
                        // keys mean nothing while agents ring.
                        let _ = self.on_host_sip(CallEvent::Request { tx, request, source });
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

    pub(super) fn is_from_caller(&self, request: &Request) -> bool {
        request.call_id_header().is_ok_and(|id| id.value() == self.caller.call_id)
    }

    /// Other requests before the answer get 481: no confirmed dialog exists yet. (A device
    /// cannot end its early dialog with BYE, §15; it declines with a final response.)
    pub(super) fn refuse_early_request(&self, tx: Option<ServerTx>, request: &Request) {
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
    pub(super) fn connect(&mut self, index: usize, response: &Response) -> Option<Ending> {
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
        if self.host.is_some() {
            return self.connect_host_answered(index, response);
        }
        let answer = sdp::parse(response.body()).and_then(|answer| {
            let media = self.media.as_ref().expect("media is opened before ringing");
            media.set_remote(Side::B, answer.remote_rtp());
            answer.relayed(media.local(Side::A))
        });
        match answer {
            Ok(answer) => {
                self.record.answered();
                self.note_picked_up(index);
                self.report.connected(self.caller_user.as_deref(), self.legs[index].extension.as_deref());
                let caller_events =
                    sdp::parse(self.invite.body()).ok().and_then(|offer| offer.telephone_event());
                self.connected_media(g711_of(&answer), [caller_events, answer.telephone_event()]);
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

    /// Leg `index` answered a caller the host had already answered: the relay joins them
    /// (the callee answered the codec the caller has).
    fn connect_host_answered(&mut self, index: usize, response: &Response) -> Option<Ending> {
        let media = self.media.as_ref()?;
        match sdp::parse(response.body()) {
            Ok(answer) => {
                media.set_remote(Side::B, answer.remote_rtp());
                media.stop_playing(Side::A);
                self.record.answered();
                self.note_picked_up(index);
                self.report.connected(self.caller_user.as_deref(), self.legs[index].extension.as_deref());
                let caller = self.host.as_ref().map(|host| host.codec);
                let codec = caller.map(|codec| codec.payload_type);
                self.connected_media(
                    codec,
                    [caller.and_then(|c| c.telephone_event), answer.telephone_event()],
                );
                None
            }
            Err(error) => {
                tracing::warn!(%error, "the device's SDP answer is unusable");
                let leg = &mut self.legs[index];
                let bye = leg.dialog.request(Method::Bye, &[], None);
                let (call_id, id) = (leg.dialog.call_id.clone(), leg.id);
                self.send_request(bye, &call_id, id);
                Some(Ending::new(CallStatus::Failed, format!("unusable SDP answer: {error}"), Some(488)))
            }
        }
    }
}

/// The G.711 payload type a description settled on (its first PCMU or PCMA).
pub(super) fn g711_of(description: &Sdp) -> Option<u8> {
    description.payload_types().iter().copied().find(|&pt| pt == sdp::PCMU || pt == sdp::PCMA)
}
