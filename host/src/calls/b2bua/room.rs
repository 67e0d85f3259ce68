//! A phone in a conference room (SPEC §11): the host answers it (after the room's PIN,
//! when it has one), its audio goes to the room's browsers and it hears their mix, until
//! it hangs up or the room is deleted.

use super::host::{Gathered, Gathering, Heard};
use super::*;
use crate::media::relay::Listening;
use crate::prompts::system;
use crate::store::records::Room;

/// PIN attempts before the host hangs up.
const PIN_ATTEMPTS: usize = 3;

/// Entering a room's PIN: up to 12 digits, `#` ends.
const PIN_ENTRY: Gathering = Gathering {
    max_digits: 12,
    timeout: Duration::from_secs(8),
    inter_digit_timeout: Duration::from_secs(5),
    hash_ends: true,
};

impl Call {
    /// The caller, answered by the host, joins `room`; how the call ends.
    pub(super) async fn join_room(&mut self, company: &Company, room: &Room) -> Ending {
        self.record.destination = Some(format!("room {}", room.name));
        if let Some(pin) = &room.pin {
            match self.room_pin(company, pin).await {
                Ok(true) => {}
                Ok(false) => return Ending::new(CallStatus::Answered, "wrong room PIN", None),
                Err(cause) => return Ending::new(CallStatus::Answered, cause, None),
            }
        }
        let (Some(host), Some(_)) = (&self.host, &self.media) else {
            return Ending::new(CallStatus::Failed, "no media to join a room with", None);
        };
        let codec = host.codec;
        let rooms = Arc::clone(&self.engine.app.rooms);
        if rooms.participants(&company.id, &room.id) >= room.max_participants as usize {
            return Ending::new(CallStatus::Failed, "the room is full", None);
        }
        let recording = self.conference_recording();
        if let Some((_, true)) = &recording
            && let Some(prompt) = self.prompt(&company.id, system::CALL_MAY_BE_RECORDED)
            && let Err(cause) = self.play_to_end(vec![prompt]).await
        {
            return Ending::new(CallStatus::Answered, cause, None);
        }
        let phone = rooms.join_phone(&company.id, &room.id, codec.payload_type).await;
        let mix: Arc<dyn crate::media::LiveAudio> = phone.mix.clone();
        let (voice, heard) =
            match recording.and_then(|(extension, _)| self.record_conference(&extension, mix.clone())) {
                Some((voice, heard)) => (Some(voice), heard),
                None => (None, mix),
            };
        if let Some(media) = &self.media {
            let listening = Listening {
                telephone_event: codec.telephone_event,
                track: voice,
                tap: Some(phone.audio.clone()),
            };
            media.listen(Side::A, listening);
            media.play_live(Side::A, codec.payload_type, heard);
        }
        let mut closed = phone.closed.clone();
        let ending = loop {
            tokio::select! {
                heard = self.wait(None) => if let Heard::HungUp(cause) = heard {
                    break Ending::new(CallStatus::Answered, cause, None);
                },
                _ = closed.changed() => {
                    self.hang_up_caller();
                    break Ending::new(CallStatus::Answered, "the room was deleted", None);
                }
            }
        };
        if let Some(media) = &self.media {
            media.stop_listening(Side::A);
            media.stop_playing(Side::A);
        }
        ending
    }

    /// Ask for the room's PIN: whether the caller gave it (a few tries).
    async fn room_pin(&mut self, company: &Company, pin: &str) -> Result<bool, String> {
        for _ in 0..PIN_ATTEMPTS {
            let prompt = self.prompt(&company.id, system::VOICEMAIL_ENTER_PIN);
            if let Gathered::Digits(given) = self.collect(prompt.into_iter().collect(), PIN_ENTRY).await?
                && crate::constant_time::eq(given.trim_end_matches('#').as_bytes(), pin.as_bytes())
            {
                return Ok(true);
            }
            tracing::info!("wrong room PIN");
        }
        Ok(false)
    }
}
