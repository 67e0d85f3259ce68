//! One room's media: who is in it, and every track one of them publishes forwarded to
//! each of the others.
//!
//! A published track (a browser's microphone or camera) has one outgoing copy per other
//! participant — its own SSRC on that participant's connection — and a task that reads the
//! publisher's RTP and writes each packet to every copy. A participant who joins gets a
//! copy of every track already published; one who leaves takes its tracks, and its
//! copies, away.
//!
//! A copy carries packets only once the browser answered the offer that announced it
//! (JSEP, RFC 8829 §5.2: the offerer sends on a new section after the answer). Before
//! that the browser does not know the copy's SSRC; Chromium was seen never to deliver
//! such an SSRC afterwards (most likely routed by payload type to another section and
//! kept there), so a participant now and then never heard another.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use rtc::media_stream::MediaStreamTrack;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use tokio::sync::{Notify, watch};
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::rtp_transceiver::RtpSender;

use super::lock;
use super::mixer::Mixer;

/// How often a video publisher is asked for a key frame (RTCP PLI), so that a participant
/// who lost packets gets a picture again soon. (One whose copy just went live gets one
/// asked for at once.)
const KEY_FRAME_INTERVAL: Duration = Duration::from_secs(2);

/// A participant as the room sees it.
pub(super) struct Member {
    pub(super) id: u64,
    pub(super) reach: Reach,
}

/// A change to a browser's tracks, which its signalling makes between offers (a track
/// added while an offer waits for its answer may never be sent).
pub(super) enum TrackChange {
    /// Send this copy, on a send-only transceiver of its own; its sender goes in the slot.
    Add(Arc<TrackLocalStaticRTP>, Arc<SenderSlot>),
    /// Stop sending the copy whose sender is in the slot.
    Remove(Arc<SenderSlot>),
}

/// A copy's place on a browser's connection: its sender once its transceiver exists, and
/// whether the browser has answered the offer that announced it.
pub(super) struct SenderSlot {
    sender: OnceLock<Arc<dyn RtpSender>>,
    answered: AtomicBool,
    /// A video copy's publisher's key frame requests: the copy starts with a picture.
    key_frame: Option<Arc<Notify>>,
}

impl SenderSlot {
    fn new(key_frame: Option<Arc<Notify>>) -> SenderSlot {
        SenderSlot { sender: OnceLock::new(), answered: AtomicBool::new(false), key_frame }
    }

    pub(super) fn sender(&self) -> Option<&Arc<dyn RtpSender>> {
        self.sender.get()
    }

    /// The copy's transceiver exists (it goes in the next offer).
    pub(super) fn placed(&self, sender: Arc<dyn RtpSender>) {
        let _ = self.sender.set(sender);
    }

    /// The browser answered the offer that announced the copy: its packets may flow.
    pub(super) fn answered(&self) {
        self.answered.store(true, Ordering::Release);
        if let Some(key_frame) = &self.key_frame {
            key_frame.notify_one();
        }
    }

    fn is_answered(&self) -> bool {
        self.answered.load(Ordering::Acquire)
    }
}

/// How a participant receives the others.
pub(super) enum Reach {
    /// A browser: a copy of each track on its connection, and a new offer when they
    /// change (through its signalling).
    Browser(tokio::sync::mpsc::UnboundedSender<TrackChange>),
    /// A phone: the others' audio, mixed.
    Phone(Arc<Mixer>),
}

/// One participant's copy of a published track.
pub(super) struct Copy {
    subscriber: u64,
    target: CopyTarget,
}

pub(super) enum CopyTarget {
    /// A track on a browser's connection, with its own SSRC.
    Track { ssrc: u32, track: Arc<TrackLocalStaticRTP>, slot: Arc<SenderSlot> },
    /// A phone's mix.
    Mix(Arc<Mixer>),
}

/// The copies of one published track, shared with the task forwarding it.
pub(super) type Copies = Arc<Mutex<Vec<Copy>>>;

/// A track a participant publishes.
#[derive(Clone)]
struct Published {
    publisher: u64,
    kind: RtpCodecKind,
    codec: RTCRtpCodec,
    copies: Copies,
    /// Woken when a copy goes live: ask the publisher for a key frame now.
    key_frame: Arc<Notify>,
}

pub(super) struct LiveRoom {
    /// Held across a whole join, publication or leave: otherwise a participant joining
    /// while another's track is being published could be missed by both (the join copies
    /// the tracks published so far, the publication the participants in so far).
    changing: tokio::sync::Mutex<()>,
    members: Mutex<Vec<Arc<Member>>>,
    published: Mutex<Vec<Published>>,
    next_id: AtomicU64,
    /// Set when the room is deleted: its participants leave.
    closed: watch::Sender<bool>,
}

impl LiveRoom {
    pub(super) fn new() -> LiveRoom {
        LiveRoom {
            changing: tokio::sync::Mutex::new(()),
            members: Mutex::default(),
            published: Mutex::default(),
            next_id: AtomicU64::new(1),
            closed: watch::channel(false).0,
        }
    }

    pub(super) fn size(&self) -> usize {
        lock(&self.members).len()
    }

    pub(super) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    pub(super) fn close(&self) {
        let _ = self.closed.send(true);
    }

    /// Resolves when the room is deleted.
    pub(super) fn closed(&self) -> watch::Receiver<bool> {
        self.closed.subscribe()
    }

    /// `member` joins: it gets a copy of every track published so far (its first offer
    /// carries them).
    pub(super) async fn enter(&self, member: Arc<Member>) {
        let _changing = self.changing.lock().await;
        let published: Vec<Published> = lock(&self.published).clone();
        for track in &published {
            if let Some(copy) = copy_for(&member, track) {
                lock(&track.copies).push(copy);
            }
        }
        lock(&self.members).push(member);
    }

    /// `member` leaves: its tracks go from everyone, and everyone's copies from it.
    pub(super) async fn leave(&self, member: u64) {
        let _changing = self.changing.lock().await;
        lock(&self.members).retain(|m| m.id != member);
        let gone: Vec<Published> = {
            let mut published = lock(&self.published);
            let (gone, kept) = published.drain(..).partition(|p| p.publisher == member);
            *published = kept;
            gone
        };
        for published in lock(&self.published).iter() {
            lock(&published.copies).retain(|copy| copy.subscriber != member);
        }
        let members = lock(&self.members).clone();
        for published in gone {
            let copies = std::mem::take(&mut *lock(&published.copies));
            for copy in copies {
                let subscriber = members.iter().find(|m| m.id == copy.subscriber);
                match (subscriber.map(|m| &m.reach), copy.target) {
                    (Some(Reach::Browser(changes)), CopyTarget::Track { slot, .. }) => {
                        let _ = changes.send(TrackChange::Remove(slot));
                    }
                    (Some(Reach::Phone(mix)), _) => mix.forget(member),
                    _ => {}
                }
            }
        }
    }

    /// `publisher` sends `track`: forward it to every other participant until it ends.
    pub(super) async fn publish(self: Arc<Self>, publisher: u64, track: Arc<dyn TrackRemote>) {
        let kind = track.kind().await;
        let named = match track.ssrcs().await.first().copied() {
            Some(ssrc) => track.codec(ssrc).await.map(|codec| (ssrc, codec)),
            None => None,
        };
        // A track that did not name its SSRC and codec when it opened is known by its
        // first packet instead, which is then forwarded like the rest.
        let mut first = None;
        let (ssrc, codec) = match named {
            Some(named) => named,
            None => loop {
                match track.poll().await {
                    Some(TrackRemoteEvent::OnRtpPacket(packet)) => {
                        let Some(codec) = super::peer::codec_of(packet.header.payload_type) else { continue };
                        tracing::debug!(publisher, %kind, "a track named its codec by its first packet");
                        let ssrc = packet.header.ssrc;
                        first = Some(packet);
                        break (ssrc, codec);
                    }
                    Some(_) => {}
                    None => return,
                }
            },
        };
        let (copies, key_frame) = self.published_by(publisher, kind, codec).await;
        if kind == RtpCodecKind::Video {
            tokio::spawn(ask_for_key_frames(Arc::clone(&track), ssrc, key_frame));
        }
        if let Some(packet) = first {
            forward(publisher, &packet, &copies).await;
        }
        while let Some(event) = track.poll().await {
            if let TrackRemoteEvent::OnRtpPacket(packet) = event {
                forward(publisher, &packet, &copies).await;
            }
        }
    }

    /// `publisher` sends a track of `kind` in `codec`: each other participant gets a copy
    /// (browsers a new offer for it); the copies, for the packets to go to, and what is
    /// woken when a copy goes live (for a video track: ask for a key frame).
    pub(super) async fn published_by(
        &self,
        publisher: u64,
        kind: RtpCodecKind,
        codec: RTCRtpCodec,
    ) -> (Copies, Arc<Notify>) {
        let _changing = self.changing.lock().await;
        let track =
            Published { publisher, kind, codec, copies: Arc::default(), key_frame: Arc::new(Notify::new()) };
        let others: Vec<Arc<Member>> =
            lock(&self.members).iter().filter(|m| m.id != publisher).cloned().collect();
        for member in &others {
            if let Some(copy) = copy_for(member, &track) {
                lock(&track.copies).push(copy);
            }
        }
        let handles = (Arc::clone(&track.copies), Arc::clone(&track.key_frame));
        lock(&self.published).push(track);
        handles
    }
}

/// A copy of a `published` track for `member`: on a browser's connection a track whose
/// stream id names the publisher (a browser shows a participant's audio and video
/// together); into a phone's mix, audio only. A video copy wakes the publication's
/// `key_frame` when it goes live.
fn copy_for(member: &Member, published: &Published) -> Option<Copy> {
    let Published { publisher, kind, ref codec, ref key_frame, .. } = *published;
    let changes = match &member.reach {
        Reach::Phone(mix) if kind == RtpCodecKind::Audio => {
            return Some(Copy { subscriber: member.id, target: CopyTarget::Mix(Arc::clone(mix)) });
        }
        Reach::Phone(_) => return None,
        Reach::Browser(changes) => changes,
    };
    let ssrc = rand::random::<u32>();
    let track = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
        format!("participant-{publisher}"),
        format!("participant-{publisher}-{kind}-{ssrc}"),
        format!("participant {publisher} {kind}"),
        kind,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters { ssrc: Some(ssrc), ..Default::default() },
            codec: codec.clone(),
            ..Default::default()
        }],
    )));
    let slot = Arc::new(SenderSlot::new((kind == RtpCodecKind::Video).then(|| Arc::clone(key_frame))));
    // Fails only when the participant's signalling ended (it is leaving).
    changes.send(TrackChange::Add(Arc::clone(&track), Arc::clone(&slot))).ok()?;
    Some(Copy { subscriber: member.id, target: CopyTarget::Track { ssrc, track, slot } })
}

/// Hand `publisher`'s RTP `packet` to each copy: a browser's track (with the copy's SSRC)
/// once the browser answered for it, or a phone's mix.
pub(super) async fn forward(publisher: u64, packet: &rtc::rtp::Packet, copies: &Copies) {
    for (ssrc, target) in deliver_to(publisher, packet, copies) {
        let mut copy = packet.clone();
        copy.header.ssrc = ssrc;
        // The publisher's header extensions name its own connection's streams (its MID,
        // its transport-wide sequence): the subscriber's sender writes its own.
        copy.header.extension = false;
        copy.header.extensions.clear();
        // Fails only when the subscriber's connection is closing: nothing to deliver to.
        let _ = target.write_rtp(copy).await;
    }
}

/// Push `packet` into the phones' mixes; the browsers' tracks it goes to, with their
/// SSRCs: those whose offer the browser answered.
fn deliver_to(
    publisher: u64,
    packet: &rtc::rtp::Packet,
    copies: &Copies,
) -> Vec<(u32, Arc<TrackLocalStaticRTP>)> {
    let copies = lock(copies);
    let mut tracks = Vec::new();
    for copy in copies.iter() {
        match &copy.target {
            CopyTarget::Mix(mix) => mix.push(publisher, packet.header.payload_type, &packet.payload),
            CopyTarget::Track { ssrc, track, slot } if slot.is_answered() => {
                tracks.push((*ssrc, Arc::clone(track)));
            }
            CopyTarget::Track { .. } => {}
        }
    }
    tracks
}

/// Ask `track`'s publisher for a key frame every [`KEY_FRAME_INTERVAL`], and at once when
/// `wanted` (a copy went live), until the track ends.
async fn ask_for_key_frames(track: Arc<dyn TrackRemote>, media_ssrc: u32, wanted: Arc<Notify>) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(KEY_FRAME_INTERVAL) => {}
            () = wanted.notified() => {}
        }
        let pli = PictureLossIndication { sender_ssrc: 0, media_ssrc };
        if track.write_rtcp(vec![Box::new(pli)]).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn audio_packet() -> rtc::rtp::Packet {
        let mut packet = rtc::rtp::Packet::default();
        packet.header.payload_type = crate::media::sdp::PCMU;
        packet.header.ssrc = 1;
        packet
    }

    /// Participant 1 publishes a track of `kind` sent with `payload_type` into a room where
    /// browser 2 is: the copies, the publication's key frame wake-up, and the slot of 2's copy.
    async fn published_to_a_browser(
        kind: RtpCodecKind,
        payload_type: u8,
    ) -> (Copies, Arc<Notify>, Arc<SenderSlot>) {
        let room = LiveRoom::new();
        let (changes, mut asked) = tokio::sync::mpsc::unbounded_channel();
        room.enter(Arc::new(Member { id: 2, reach: Reach::Browser(changes) })).await;
        let codec = super::super::peer::codec_of(payload_type).expect("a room codec");
        let (copies, key_frame) = room.published_by(1, kind, codec).await;
        let Ok(TrackChange::Add(_, slot)) = asked.try_recv() else {
            panic!("the browser was asked to add a copy")
        };
        (copies, key_frame, slot)
    }

    #[tokio::test]
    async fn a_copy_carries_packets_only_once_the_browser_answered_the_offer_announcing_it() {
        let (copies, _, slot) = published_to_a_browser(RtpCodecKind::Audio, crate::media::sdp::PCMU).await;
        assert!(deliver_to(1, &audio_packet(), &copies).is_empty(), "no packet before the answer");
        slot.answered();
        let delivered = deliver_to(1, &audio_packet(), &copies);
        assert_eq!(delivered.len(), 1, "the answered copy gets the packet");
        assert_ne!(delivered[0].0, 1, "under the copy's own SSRC");
    }

    #[tokio::test]
    async fn a_video_copy_going_live_asks_its_publisher_for_a_key_frame_at_once() {
        let (_copies, key_frame, slot) = published_to_a_browser(RtpCodecKind::Video, 96).await;
        // A zero timeout polls once: whether a wake-up is already there.
        let woken = || tokio::time::timeout(std::time::Duration::ZERO, key_frame.notified());
        assert!(woken().await.is_err(), "no key frame asked for before the copy is live");
        slot.answered();
        assert!(woken().await.is_ok(), "asked for as the copy goes live");
    }
}
