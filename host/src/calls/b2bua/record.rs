//! Call recording (SPEC §6) while two parties talk: per extension, never / conferences
//! only / on demand (the party keys the record code, `*1` by default) / always, with the
//! optional "this call may be recorded" announcement. Each side's audio is a [`Track`]
//! fed by the relay; when the call ends the two tracks become one two-channel WAV (caller
//! left, callee right). A phone in a conference room is recorded with its own voice on
//! the left and the room's mix it hears on the right.

use std::sync::Arc;

use super::*;
use crate::media::LiveAudio;
use crate::media::audio::FRAME_SAMPLES;
use crate::media::relay::Listening;
use crate::media::track::Track;
use crate::prompts::system;
use crate::recordings::{self, NewRecording};
use crate::store::records::RecordingMode;

/// Longest recording kept: the tracks live in memory until the call ends (16 KB/s each).
const MAX_RECORDING: Duration = Duration::from_secs(2 * 3600);

/// What the call knows about recording.
#[derive(Default)]
pub(super) struct Recorder {
    /// Extensions of this call whose settings apply, on the side they talk from.
    parties: Vec<(Side, String, RecordingSettings)>,
    /// The RFC 4733 payload type of each side (A, B), for the record code.
    telephone_events: [Option<u8>; 2],
    /// The last keys of each side, to spot the record code.
    typed: [String; 2],
    /// Tokens of the announcement still playing to each side.
    announcing: Vec<u64>,
    active: Option<ActiveRecording>,
}

/// A recording in progress.
pub(super) struct ActiveRecording {
    started_at: chrono::DateTime<chrono::Utc>,
    extension: String,
    /// What arrives from the caller (side A) and from the callee (side B).
    tracks: [Arc<Track>; 2],
}

fn side_index(side: Side) -> usize {
    match side {
        Side::A => 0,
        Side::B => 1,
    }
}

impl Call {
    /// `user` takes part on `side`: its recording settings apply to this call.
    pub(super) fn recording_party(&mut self, side: Side, user: &User) {
        self.recorder.parties.push((side, user.extension.clone(), user.recording));
    }

    /// The parties are connected: listen for the record code on both sides and start
    /// recording if a party records every call.
    pub(super) fn connected_media(&mut self, codec: Option<u8>, telephone_events: [Option<u8>; 2]) {
        self.codec = codec;
        self.recorder.telephone_events = telephone_events;
        self.listen_both(None);
        let always = self.recorder.parties.iter().find(|(_, _, s)| s.mode == RecordingMode::Always);
        if let Some((_, extension, settings)) = always.cloned() {
            self.begin_recording(&extension, settings.announce);
        }
    }

    fn listen_both(&self, tracks: Option<&[Arc<Track>; 2]>) {
        let Some(media) = &self.media else { return };
        for side in [Side::A, Side::B] {
            let index = side_index(side);
            media.listen(
                side,
                Listening {
                    telephone_event: self.recorder.telephone_events[index],
                    track: tracks.map(|tracks| tracks[index].clone()),
                    tap: None,
                },
            );
        }
    }

    fn begin_recording(&mut self, extension: &str, announce: bool) {
        let Some(tracks) = self.start_tracks(extension) else { return };
        self.listen_both(Some(&tracks));
        if announce {
            self.announce(system::CALL_MAY_BE_RECORDED);
        }
    }

    /// A recording for `extension` starts now, unless one runs or the quota is reached:
    /// its two tracks, for the caller's and the callee's audio.
    fn start_tracks(&mut self, extension: &str) -> Option<[Arc<Track>; 2]> {
        if self.recorder.active.is_some() {
            return None;
        }
        if !recordings::may_record(&self.engine.app, &self.record.company) {
            tracing::info!("recording quota reached; this call is not recorded");
            return None;
        }
        let started = Instant::now();
        let tracks =
            [Arc::new(Track::new(started, MAX_RECORDING)), Arc::new(Track::new(started, MAX_RECORDING))];
        tracing::info!(%extension, "recording the call");
        self.recorder.active = Some(ActiveRecording {
            started_at: chrono::Utc::now(),
            extension: extension.to_string(),
            tracks: tracks.clone(),
        });
        Some(tracks)
    }

    /// The calling extension whose settings record its conference calls (mode
    /// conferences only, or always), and whether it wants the announcement.
    pub(super) fn conference_recording(&self) -> Option<(String, bool)> {
        self.recorder.parties.iter().find_map(|(side, extension, settings)| {
            let records = matches!(settings.mode, RecordingMode::Conferences | RecordingMode::Always);
            (*side == Side::A && records).then(|| (extension.clone(), settings.announce))
        })
    }

    /// Start recording the caller's stay in a conference for `extension`: the track its
    /// voice goes to, and the room's `mix` copied into the other track as it plays.
    pub(super) fn record_conference(
        &mut self,
        extension: &str,
        mix: Arc<dyn LiveAudio>,
    ) -> Option<(Arc<Track>, Arc<dyn LiveAudio>)> {
        let [voice, heard] = self.start_tracks(extension)?;
        Some((voice, Arc::new(RecordedMix { mix, track: heard })))
    }

    /// Play prompt `name` to both parties (relaying pauses meanwhile).
    fn announce(&mut self, name: &str) {
        let (Some(media), Some(codec)) = (&self.media, self.codec) else { return };
        let Some(prompt) = self.engine.app.prompts.get(&self.record.company, name) else { return };
        for (token, side) in [(u64::MAX - 1, Side::A), (u64::MAX, Side::B)] {
            media.play(side, codec, vec![prompt.clone()], false, token);
            self.recorder.announcing.push(token);
        }
    }

    /// A media event while the parties talk.
    pub(super) fn on_talk_media(&mut self, event: MediaEvent) {
        match event {
            MediaEvent::PlaybackDone { side, token } => {
                if let Some(at) = self.recorder.announcing.iter().position(|t| *t == token) {
                    self.recorder.announcing.remove(at);
                    if let Some(media) = &self.media {
                        media.stop_playing(side);
                    }
                }
            }
            MediaEvent::Digit { side, digit } => {
                let typed = &mut self.recorder.typed[side_index(side)];
                typed.push(digit);
                let code = crate::api::service_codes::effective_service_codes(
                    &self.engine.app,
                    &self.record.company,
                )
                .record_on_demand;
                if typed.len() > code.len() {
                    typed.drain(..typed.len() - code.len());
                }
                if *typed != code {
                    return;
                }
                typed.clear();
                let party = self
                    .recorder
                    .parties
                    .iter()
                    .find(|(s, _, settings)| *s == side && settings.mode == RecordingMode::OnDemand)
                    .cloned();
                if let Some((_, extension, settings)) = party {
                    self.begin_recording(&extension, settings.announce);
                }
            }
        }
    }

    /// Store the call's recording, if one was made; its id, for the CDR.
    pub(super) async fn save_recording(&mut self) -> Option<String> {
        let active = self.recorder.active.take()?;
        let [left, right] = [active.tracks[0].take(), active.tracks[1].take()];
        let meta = NewRecording {
            company: self.record.company.clone(),
            call_id: self.record.call_id.clone(),
            direction: self.record.direction,
            from: self.record.caller.clone(),
            to: self.record.called.clone(),
            extension: active.extension,
            started_at: active.started_at,
        };
        let app = self.engine.app.clone();
        match tokio::task::spawn_blocking(move || recordings::save(&app, meta, &left, &right)).await {
            Ok(Ok(recording)) => {
                tracing::info!(id = %recording.id, "call recording stored");
                return Some(recording.id);
            }
            Ok(Err(error)) => tracing::error!(%error, "call recording could not be stored"),
            Err(error) => tracing::error!(%error, "call recording task failed"),
        }
        None
    }
}

/// A conference's mix as the phone hears it, also written to a recording's track.
struct RecordedMix {
    mix: Arc<dyn LiveAudio>,
    track: Arc<Track>,
}

impl LiveAudio for RecordedMix {
    fn next_frame(&self, frame: &mut [i16; FRAME_SAMPLES]) {
        self.mix.next_frame(frame);
        self.track.push_samples(frame, Instant::now());
    }
}
