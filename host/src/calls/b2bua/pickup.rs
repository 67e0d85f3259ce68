//! Call pickup by phone (SPEC §7), both ends of it. The picker's call (`*95101`, or `*96`
//! for its pickup groups) finds the call ringing longest there and hands its INVITE over;
//! the ringing call cancels its devices and answers the picker instead, through the same
//! media session, and carries on as an answered call (one CDR, the ringing call's).

use super::ring::{Leg, LegState};
use super::*;
use crate::calls::pickup::{PickedUp, PickupRequest};
use crate::media::sdp::HostCodec;
use crate::sip::dialog::Outgoing;
use crate::sip::transport::Transport;

/// How long the picker waits for the ringing call to take it.
const HANDOVER_WAIT: Duration = Duration::from_secs(2);

impl Call {
    /// The picker's side: take the call ringing at `wanted` (none = any member of the
    /// picker's pickup groups). The ending is the picker's own only when nothing was
    /// taken; otherwise this call is over and the taken call goes on.
    pub(super) async fn pick_up(
        &mut self,
        company: &Company,
        picker: &str,
        wanted: Option<String>,
    ) -> Ending {
        let candidates: Vec<String> = match wanted {
            Some(extension) => vec![extension],
            None => crate::api::pickup_groups::pickup_groups_of(&self.engine.app, &company.id, picker)
                .into_iter()
                .flat_map(|group| group.members)
                .filter(|member| member != picker)
                .collect(),
        };
        self.record.destination = Some("pickup".into());
        let Some(ringing) = self.engine.pickups.oldest(&company.id, &candidates) else {
            self.respond_caller(480, None);
            return Ending::new(CallStatus::NoAnswer, "no ringing call to pick up", Some(480));
        };
        let (_, events_in_use) = tokio::sync::mpsc::unbounded_channel();
        let picked = PickedUp {
            picker: picker.to_string(),
            invite: self.invite.clone(),
            tx: self.invite_tx.clone(),
            dialog: self.caller.clone(),
            events: std::mem::replace(&mut self.events, events_in_use),
        };
        let (reply, answer) = tokio::sync::oneshot::channel();
        let sent = ringing.send(PickupRequest { picked, reply });
        let answer = match sent {
            Ok(()) => tokio::time::timeout(HANDOVER_WAIT, answer).await,
            Err(unsent) => Ok(Ok(Err(unsent.0.picked))),
        };
        match answer {
            Ok(Ok(Ok(()))) => {
                self.handed_over = true;
                Ending::new(CallStatus::Answered, "picked up a ringing call", Some(200))
            }
            Ok(Ok(Err(picked))) => {
                self.events = picked.events;
                self.respond_caller(480, None);
                Ending::new(CallStatus::NoAnswer, "the ringing call was answered meanwhile", Some(480))
            }
            // The ringing call ended without answering, taking the picker's events along.
            Ok(Err(_)) | Err(_) => {
                self.respond_caller(480, None);
                Ending::new(CallStatus::NoAnswer, "the ringing call went away", Some(480))
            }
        }
    }

    /// The ringing side: answer the picker in place of the devices. `None` when the pickup
    /// is refused (the picker's call is given back); else how ringing ends (`None` inside:
    /// connected, go on talking).
    pub(super) fn accept_pickup(&mut self, request: PickupRequest) -> Option<Option<Ending>> {
        let PickupRequest { picked, reply } = request;
        let answers = self.pickup_answers(&picked);
        let Some((codec, picker_answer, caller_answer)) = answers else {
            tracing::info!(picker = %picked.picker, "pickup refused: no common G.711 codec or no media");
            // The picker gets its call back; if it is gone already there is nothing to do.
            let _ = reply.send(Err(picked));
            return None;
        };
        let PickedUp { picker, invite, tx, dialog, events } = picked;
        self.cancel_legs_except(None);
        let media = self.media.as_ref()?;
        if let Ok(offer) = sdp::parse(invite.body()) {
            media.set_remote(Side::B, offer.remote_rtp());
        }
        media.stop_playing(Side::A);
        let ok = dialog.response(&invite, 200, Some(&picker_answer));
        self.send(Command::Respond { tx: tx.clone(), status: 200, bytes: ok.clone() });
        self.winner_answer = Some((tx, ok));
        if let Some(answer) = caller_answer {
            let ok = self.caller.response(&self.invite, 200, Some(&answer));
            self.send(Command::Respond { tx: self.invite_tx.clone(), status: 200, bytes: ok.clone() });
            self.answer = Some(ok);
        }
        self.record.answered();
        self.report.connected(self.caller_user.as_deref(), Some(&picker));
        let rung = self.record.destination.take().unwrap_or_default();
        self.record.destination = Some(format!("{rung} (picked up by {picker})"));
        let id = self.legs.len() as LegId + 1;
        let telephone_events = [self.caller_telephone_event(), codec.telephone_event];
        // The picker's requests (ACK, BYE) still reach its own call's channel until we
        // send in its dialog: bring them here.
        forward(events, self.events_sender.clone());
        self.legs.push(Leg {
            id,
            // The INVITE was the picker's: there is no request of ours to ACK or CANCEL.
            invite: Outgoing {
                method: Method::Invite,
                branch: String::new(),
                cseq: 0,
                bytes: Vec::new(),
                dest: dialog.peer,
                transport: Transport::Udp,
            },
            dialog,
            state: LegState::Answered,
            cancel_wanted: false,
            cancel_sent: false,
            status: Some(200),
            group: usize::MAX,
            credentials: None,
            authenticated: false,
            extension: Some(picker),
        });
        self.winner = Some(self.legs.len() - 1);
        self.connected_media(Some(codec.payload_type), telephone_events);
        // The picker may have given up waiting; then it gets our BYE when it ACKs nothing.
        let _ = reply.send(Ok(()));
        Some(None)
    }

    /// The codec both parties share, our answer to the picker's offer and, unless the host
    /// answered the caller already, our answer to the caller's offer.
    fn pickup_answers(&self, picked: &PickedUp) -> Option<(HostCodec, Vec<u8>, Option<Vec<u8>>)> {
        let media = self.media.as_ref()?;
        let picker_offer = sdp::parse(picked.invite.body()).ok()?;
        let picker_codec = picker_offer.host_codec().ok()?;
        let (payload_type, caller_answer) = match &self.host {
            Some(host) => (host.codec.payload_type, None),
            None => {
                let caller_offer = sdp::parse(self.invite.body()).ok()?;
                let codec = caller_offer.host_codec().ok()?;
                let answer = caller_offer.host_answer(media.local(Side::A), codec).to_bytes();
                (codec.payload_type, Some(answer))
            }
        };
        // The relay does not transcode: the picker must take the caller's G.711.
        if !picker_offer.payload_types().contains(&payload_type) {
            return None;
        }
        let codec = HostCodec { payload_type, telephone_event: picker_codec.telephone_event };
        let picker_answer = picker_offer.host_answer(media.local(Side::B), codec).to_bytes();
        Some((codec, picker_answer, caller_answer))
    }

    fn caller_telephone_event(&self) -> Option<u8> {
        match &self.host {
            Some(host) => host.codec.telephone_event,
            None => sdp::parse(self.invite.body()).ok().and_then(|offer| offer.telephone_event()),
        }
    }
}

/// Pass every event of `from` on to `to`, until either closes.
fn forward(mut from: UnboundedReceiver<CallEvent>, to: CallEvents) {
    tokio::spawn(async move {
        while let Some(event) = from.recv().await {
            if to.send(event).is_err() {
                break;
            }
        }
    });
}

/// The next pickup asked of a ringing call, or never when it is not open to pickup.
pub(super) async fn next_pickup(
    slot: &mut Option<crate::calls::pickup::PickupSlot>,
) -> Option<PickupRequest> {
    match slot {
        Some(slot) => slot.requests.recv().await,
        None => std::future::pending().await,
    }
}
