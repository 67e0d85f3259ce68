//! One room's media: who is in it, and every track one of them publishes forwarded to
//! each of the others.
//!
//! A published track (a browser's microphone or camera) has one outgoing copy per other
//! participant — its own SSRC on that participant's connection — and a task that reads the
//! publisher's RTP and writes each packet to every copy. A participant who joins gets a
//! copy of every track already published; one who leaves takes its tracks, and its
//! copies, away.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rtc::media_stream::MediaStreamTrack;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use tokio::sync::watch;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::PeerConnection;
use webrtc::rtp_transceiver::RtpSender;

use super::lock;

/// How often a video publisher is asked for a key frame (RTCP PLI), so that a participant
/// who joined later, or lost packets, gets a picture soon.
const KEY_FRAME_INTERVAL: Duration = Duration::from_secs(2);

/// A participant as the room sees it.
pub(super) struct Member {
    pub(super) id: u64,
    pub(super) connection: Arc<dyn PeerConnection>,
    /// Asks the participant's signalling for a new offer (its tracks changed).
    pub(super) renegotiate: tokio::sync::mpsc::UnboundedSender<()>,
}

/// One participant's copy of a published track.
struct Copy {
    subscriber: u64,
    ssrc: u32,
    track: Arc<TrackLocalStaticRTP>,
    sender: Arc<dyn RtpSender>,
}

/// The copies of one published track, shared with the task forwarding it.
type Copies = Arc<Mutex<Vec<Copy>>>;

/// A track a participant publishes.
struct Published {
    publisher: u64,
    kind: RtpCodecKind,
    codec: RTCRtpCodec,
    copies: Copies,
}

pub(super) struct LiveRoom {
    members: Mutex<Vec<Arc<Member>>>,
    published: Mutex<Vec<Published>>,
    next_id: AtomicU64,
    /// Set when the room is deleted: its participants leave.
    closed: watch::Sender<bool>,
}

impl LiveRoom {
    pub(super) fn new() -> LiveRoom {
        LiveRoom {
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
        let published: Vec<(RtpCodecKind, RTCRtpCodec, u64, Copies)> = lock(&self.published)
            .iter()
            .map(|p| (p.kind, p.codec.clone(), p.publisher, Arc::clone(&p.copies)))
            .collect();
        for (kind, codec, publisher, copies) in published {
            if let Some(copy) = copy_for(&member, publisher, kind, codec).await {
                lock(&copies).push(copy);
            }
        }
        lock(&self.members).push(member);
    }

    /// `member` leaves: its tracks go from everyone, and everyone's copies from it.
    pub(super) async fn leave(&self, member: u64) {
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
                if let Some(subscriber) = members.iter().find(|m| m.id == copy.subscriber) {
                    if let Err(error) = subscriber.connection.remove_track(&copy.sender).await {
                        tracing::debug!(%error, "removing a departed participant's track");
                    }
                    let _ = subscriber.renegotiate.send(());
                }
            }
        }
    }

    /// `publisher` sends `track`: forward it to every other participant until it ends.
    pub(super) async fn publish(self: Arc<Self>, publisher: u64, track: Arc<dyn TrackRemote>) {
        let kind = track.kind().await;
        let Some(ssrc) = track.ssrcs().await.first().copied() else { return };
        let Some(codec) = track.codec(ssrc).await else { return };
        let copies: Copies = Arc::default();
        let others: Vec<Arc<Member>> =
            lock(&self.members).iter().filter(|m| m.id != publisher).cloned().collect();
        for member in &others {
            if let Some(copy) = copy_for(member, publisher, kind, codec.clone()).await {
                lock(&copies).push(copy);
                let _ = member.renegotiate.send(());
            }
        }
        lock(&self.published).push(Published { publisher, kind, codec, copies: Arc::clone(&copies) });
        if kind == RtpCodecKind::Video {
            tokio::spawn(ask_for_key_frames(Arc::clone(&track), ssrc));
        }
        forward(track, copies).await;
    }
}

/// Add to `member`'s connection a copy of `publisher`'s track of `kind`: the stream id
/// names the publisher, so a browser shows a participant's audio and video together.
async fn copy_for(member: &Member, publisher: u64, kind: RtpCodecKind, codec: RTCRtpCodec) -> Option<Copy> {
    let ssrc = rand::random::<u32>();
    let track = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
        format!("participant-{publisher}"),
        format!("participant-{publisher}-{kind}-{ssrc}"),
        format!("participant {publisher} {kind}"),
        kind,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters { ssrc: Some(ssrc), ..Default::default() },
            codec,
            ..Default::default()
        }],
    )));
    match member.connection.add_track(Arc::clone(&track) as Arc<dyn TrackLocal>).await {
        Ok(sender) => Some(Copy { subscriber: member.id, ssrc, track, sender }),
        Err(error) => {
            tracing::warn!(%error, member = member.id, "cannot add a track for a participant");
            None
        }
    }
}

/// Write every RTP packet of `track` to each copy (with the copy's SSRC) until it ends.
async fn forward(track: Arc<dyn TrackRemote>, copies: Copies) {
    while let Some(event) = track.poll().await {
        let TrackRemoteEvent::OnRtpPacket(packet) = event else { continue };
        let targets: Vec<(u32, Arc<TrackLocalStaticRTP>)> =
            lock(&copies).iter().map(|c| (c.ssrc, Arc::clone(&c.track))).collect();
        for (ssrc, target) in targets {
            let mut copy = packet.clone();
            copy.header.ssrc = ssrc;
            // The publisher's header extensions name its own connection's streams (its
            // MID, its transport-wide sequence): the subscriber's sender writes its own.
            copy.header.extension = false;
            copy.header.extensions.clear();
            // Fails while the subscriber's connection has not bound the track yet (its
            // answer is on the way): the packet is dropped, the next one tries again.
            let _ = target.write_rtp(copy).await;
        }
    }
}

async fn ask_for_key_frames(track: Arc<dyn TrackRemote>, media_ssrc: u32) {
    loop {
        tokio::time::sleep(KEY_FRAME_INTERVAL).await;
        let pli = PictureLossIndication { sender_ssrc: 0, media_ssrc };
        if track.write_rtcp(vec![Box::new(pli)]).await.is_err() {
            return;
        }
    }
}
