//! The connected call: BYE from either side, re-INVITEs (hold, resume) relayed with their
//! SDP rewritten, our 2xx retransmitted until the caller's ACK, a delayed offer completed.

use super::control::Controlled;
use super::transfer::TransferTo;
use super::*;

/// A re-INVITE relayed from one leg to the other, waiting for the other's answer.
pub(super) struct PendingReinvite {
    from_caller: bool,
    /// The offer puts the other party on hold (sendonly, inactive, or address 0.0.0.0).
    holds: bool,
    tx: ServerTx,
    request: Box<Request>,
    sent_cseq: u32,
}

impl Call {
    /// The connected call, until a BYE or a lost ACK ends it; a consult still going on
    /// then ends with it.
    pub(super) async fn talk(&mut self) -> Ending {
        let ending = self.talk_until_the_end().await;
        self.drop_consult();
        ending
    }

    async fn talk_until_the_end(&mut self) -> Ending {
        let timers = TimerConfig::default();
        let Some(mut winner) = self.winner else {
            return Ending::new(CallStatus::Failed, "no answer to connect", None);
        };
        self.enter_call(winner);
        let ok = self.answer.clone().unwrap_or_default();
        // §13.3.1.4: retransmit the 2xx at T1, doubling to T2, until the ACK, for 64·T1
        // (the host's own 2xx, if it answered first, was acknowledged already). The same
        // for a picker, whose INVITE we answered too.
        let mut retransmit = self.host.is_none().then(|| (Instant::now() + timers.t1, timers.t1));
        let mut winner_retransmit =
            self.winner_answer.is_some().then(|| (Instant::now() + timers.t1, timers.t1));
        let ack_deadline = Instant::now() + timers.t1 * 64;
        let mut pending: Option<PendingReinvite> = None;
        loop {
            let wake = [retransmit, winner_retransmit].into_iter().flatten().map(|(at, _)| at).min();
            let consult_deadline = self.consult_deadline();
            let event = tokio::select! {
                event = self.events.recv() => event,
                Some(media) = next_media_event(&mut self.media_events) => {
                    self.on_talk_media(media);
                    continue;
                }
                () = sleep_until_opt(consult_deadline) => {
                    self.consult_timed_out();
                    continue;
                }
                Some(control) = self.control.recv() => {
                    match self.control_while_talking(control, winner) {
                        Controlled::Go => continue,
                        Controlled::Completed(now) => {
                            (winner, retransmit) = (now, None);
                            self.winner = Some(now);
                            continue;
                        }
                        Controlled::End(ending) => return ending,
                        Controlled::Transfer(company, TransferTo::Destination(callee)) => {
                            return self.blind_transfer(winner, *company, callee).await;
                        }
                        Controlled::Transfer(company, TransferTo::CallerSide(user, groups)) => {
                            return self.transfer_caller_side(winner, *company, user, groups).await;
                        }
                    }
                }
                () = sleep_until_opt(wake) => {
                    if Instant::now() >= ack_deadline {
                        self.hang_up_both(winner);
                        let whose = if retransmit.is_some() { "the caller" } else { "the picker" };
                        return Ending::new(CallStatus::Answered, format!("no ACK from {whose}"), None);
                    }
                    let now = Instant::now();
                    if let Some((at, interval)) = retransmit && at <= now {
                        self.send(Command::Respond { tx: self.invite_tx.clone(), status: 200, bytes: ok.clone() });
                        let next = (interval * 2).min(timers.t2);
                        retransmit = Some((now + next, next));
                    }
                    if let (Some((at, interval)), Some((tx, bytes))) = (winner_retransmit, &self.winner_answer)
                        && at <= now
                    {
                        self.send(Command::Respond { tx: tx.clone(), status: 200, bytes: bytes.clone() });
                        let next = (interval * 2).min(timers.t2);
                        winner_retransmit = Some((now + next, next));
                    }
                    continue;
                }
            };
            let Some(event) = event else {
                return Ending::new(CallStatus::Answered, "SIP endpoint stopped", None);
            };
            match event {
                CallEvent::Request { tx, request, .. } if self.is_from_consulted(&request) => {
                    self.on_consulted_request(tx, &request);
                }
                CallEvent::Request { tx, request, .. } => {
                    let from_caller = self.is_from_caller(&request);
                    match (request.method, tx) {
                        (Method::Bye, Some(tx)) if self.hang_up_completes(from_caller) => {
                            // The consulting user hung up with the consulted party on the line.
                            self.respond_in_dialog(from_caller, winner, tx, &request, 200, None);
                            if let Some(now) = self.complete_on_hang_up(from_caller, winner) {
                                (winner, retransmit) = (now, None);
                                self.winner = Some(now);
                            }
                        }
                        (Method::Ack, _) if !from_caller => {
                            // The picker's ACK of our 200.
                            winner_retransmit = None;
                            self.winner_answer = None;
                        }
                        (Method::Ack, _) => {
                            if retransmit.take().is_some() && self.offer.is_empty() {
                                // A delayed offer: the caller's answer is in its ACK.
                                if let Err(cause) = self.complete_delayed_offer(winner, &request) {
                                    self.hang_up_both(winner);
                                    return Ending::new(CallStatus::Answered, cause, None);
                                }
                            }
                        }
                        (Method::Bye, Some(tx)) if !from_caller && self.keep_caller => {
                            // The agent hung up and the queue sends the caller on.
                            self.respond_in_dialog(from_caller, winner, tx, &request, 200, None);
                            self.legs[winner].state = LegState::Done;
                            self.winner = None;
                            self.callee_left = true;
                            self.in_call.clear();
                            return Ending::new(CallStatus::Answered, "the agent hung up", Some(200));
                        }
                        (Method::Bye, Some(tx)) => {
                            self.respond_in_dialog(from_caller, winner, tx, &request, 200, None);
                            // Either the caller hung up or we send it BYE below.
                            self.caller_done = true;
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
                            let holds = is_hold(&request);
                            match self.relay_reinvite(from_caller, winner, &request) {
                                Ok(sent_cseq) => {
                                    pending =
                                        Some(PendingReinvite { from_caller, holds, tx, request, sent_cseq })
                                }
                                Err(status) => {
                                    self.respond_in_dialog(from_caller, winner, tx, &request, status, None)
                                }
                            }
                        }
                        (Method::Refer, Some(tx)) => match self.refer_target(from_caller, winner, &request) {
                            Ok((company, to)) => {
                                self.accept_refer(from_caller, winner, tx, &request);
                                return match to {
                                    TransferTo::Destination(callee) => {
                                        self.blind_transfer(winner, company, callee).await
                                    }
                                    TransferTo::CallerSide(user, groups) => {
                                        self.transfer_caller_side(winner, company, user, groups).await
                                    }
                                };
                            }
                            Err(status) => {
                                self.respond_in_dialog(from_caller, winner, tx, &request, status, None)
                            }
                        },
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
                CallEvent::Response { leg, response } if self.is_consult_leg(leg) => {
                    if cseq_method_is(&response, "INVITE") {
                        self.on_consult_response(leg, &response);
                    }
                }
                CallEvent::Timeout { leg } if self.is_consult_leg(leg) => self.on_consult_timeout(leg),
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

    pub(super) fn respond_in_dialog(
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
    pub(super) fn relay_reinvite(
        &mut self,
        from_caller: bool,
        winner: usize,
        request: &Request,
    ) -> Result<u32, u16> {
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
    pub(super) fn complete_reinvite(&mut self, pending: PendingReinvite, winner: usize, response: &Response) {
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
            self.music_on_hold(other, pending.holds);
            let holder = if pending.from_caller {
                self.caller_user.clone()
            } else {
                self.legs[winner].extension.clone()
            };
            if pending.holds {
                self.report.held(holder.as_deref());
            } else {
                self.report.resumed();
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
    pub(super) fn complete_delayed_offer(&mut self, winner: usize, ack: &Request) -> Result<(), String> {
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

    pub(super) fn hang_up_both(&mut self, winner: usize) {
        self.caller_done = true;
        let bye = self.caller.request(Method::Bye, &[], None);
        let call_id = self.caller.call_id.clone();
        self.send_request(bye, &call_id, CALLER_LEG);
        let leg = &mut self.legs[winner];
        let bye = leg.dialog.request(Method::Bye, &[], None);
        let (call_id, id) = (leg.dialog.call_id.clone(), leg.id);
        self.send_request(bye, &call_id, id);
    }
}

/// Whether a re-INVITE's offer puts the other party on hold (RFC 3264 §8.4, or the older
/// `c=0.0.0.0`); an offer without a body changes nothing.
fn is_hold(request: &Request) -> bool {
    sdp::parse(request.body()).is_ok_and(|offer| offer.held_by_address() || !offer.direction().receives())
}

impl Call {
    /// The party on `held` was put on hold (`holds`) or taken off it: music on hold (the
    /// company's upload, else the default) plays to it meanwhile (SPEC §5).
    pub(super) fn music_on_hold(&mut self, held: Side, holds: bool) {
        let (Some(media), Some(codec)) = (&self.media, self.codec) else { return };
        if !holds {
            media.stop_playing(held);
            return;
        }
        match self.engine.app.prompts.get(&self.record.company, crate::prompts::system::MUSIC_ON_HOLD) {
            Some(music) => media.play(held, codec, vec![music], true, 0),
            None => tracing::warn!("no music on hold to play"),
        }
    }
}

impl Call {
    /// The connected parties that are extensions are in a call until it ends (what a
    /// queue's strategy sees of them).
    fn enter_call(&mut self, winner: usize) {
        let presence = self.engine.presence.clone();
        let company = self.record.company.clone();
        // An extension's own call: the caller is that extension.
        if self.record.direction != Direction::Inbound {
            self.in_call.push(presence.enter_call(&company, &self.record.caller));
        }
        if let Some(extension) = &self.legs[winner].extension {
            self.in_call.push(presence.enter_call(&company, extension));
        }
    }
}
