//! Voicemail by phone (SPEC §5): leaving a message in a box (greeting, beep, record until
//! `#` or hang-up; the message is stored and mailed), and listening to a box's messages
//! with its PIN.

use super::host::{Gathered, Gathering};
use super::*;
use crate::media::audio::{Audio, SAMPLE_RATE};
use crate::prompts::system;
use crate::store::records::VoicemailBox;
use crate::voicemail;

/// A recording shorter than this is not a message (a caller who hung up at the beep).
const MIN_MESSAGE: Duration = Duration::from_millis(1000);
/// PIN attempts before the host hangs up.
const PIN_ATTEMPTS: usize = 3;
/// How long the host waits for a key after each prompt.
const KEY_TIMEOUT: Duration = Duration::from_secs(8);

/// Gathering one key after a prompt.
const ONE_KEY: Gathering =
    Gathering { max_digits: 1, timeout: KEY_TIMEOUT, inter_digit_timeout: KEY_TIMEOUT, hash_ends: false };

impl Call {
    /// Take a message for `mailbox`: greeting and beep, then record until `#`, hang-up or
    /// the box's length limit.
    pub(super) async fn leave_voicemail(&mut self, company: &Company, mailbox: &VoicemailBox) -> Ending {
        self.record.destination = Some(format!("voicemail {}", mailbox.name));
        let greeting = voicemail::greeting(&self.engine.app, mailbox);
        let beep = self.prompt(&company.id, system::BEEP);
        // `#` during the greeting skips it, as on most voicemail systems.
        let skip = Gathering { max_digits: 1, timeout: Duration::ZERO, ..ONE_KEY };
        if let Err(cause) = self.collect(std::iter::once(greeting).collect(), skip).await {
            return Ending::new(CallStatus::Answered, cause, None);
        }
        if let Err(cause) = self.play_to_end(beep.into_iter().collect()).await {
            return Ending::new(CallStatus::Answered, cause, None);
        }
        let limit = Duration::from_secs(u64::from(mailbox.max_message_seconds.max(1)));
        let Some(track) = self.record_caller(limit) else {
            return Ending::new(CallStatus::Failed, "no media to record", None);
        };
        let deadline = Instant::now() + limit;
        let hung_up = loop {
            match self.wait(Some(deadline)).await {
                Heard::Digit('#') | Heard::Timeout => break None,
                Heard::HungUp(cause) => break Some(cause),
                Heard::Digit(_) | Heard::PlaybackDone(_) => {}
            }
        };
        self.stop_recording();
        let samples = track.take();
        let length = Duration::from_millis(samples.len() as u64 * 1000 / u64::from(SAMPLE_RATE));
        if length >= MIN_MESSAGE {
            let (app, mailbox_copy) = (self.engine.app.clone(), mailbox.clone());
            let (caller, called) = (self.record.caller.clone(), self.record.called.clone());
            let audio = Audio::from_samples(samples);
            let saved = tokio::task::spawn_blocking(move || {
                voicemail::save_message(&app, &mailbox_copy, &caller, &called, &audio)
            })
            .await;
            match saved {
                Ok(Ok(message)) => tracing::info!(id = %message.id, ?length, "voicemail message stored"),
                Ok(Err(error)) => tracing::error!(%error, "voicemail message could not be stored"),
                Err(error) => tracing::error!(%error, "voicemail storing task failed"),
            }
        } else {
            tracing::info!(?length, "recording too short to be a message; dropped");
        }
        let cause = match hung_up {
            Some(cause) => cause,
            None => {
                let goodbye = self.prompt(&company.id, system::VOICEMAIL_GOODBYE);
                // The caller may hang up during the goodbye; either way the call ends.
                let _ = self.play_to_end(goodbye.into_iter().collect()).await;
                self.hang_up_caller();
                "voicemail message left".to_string()
            }
        };
        Ending::new(CallStatus::Answered, cause, Some(200))
    }

    /// Let the caller listen to `mailbox` after entering its PIN: each message, then
    /// 1 = again, 7 = delete, 9 (or nothing) = keep and go on.
    pub(super) async fn listen_to_voicemail(&mut self, company: &Company, mailbox: &VoicemailBox) -> Ending {
        self.record.destination = Some(format!("voicemail access {}", mailbox.name));
        match self.listen_to_voicemail_inner(company, mailbox).await {
            Ok(cause) => {
                let goodbye = self.prompt(&company.id, system::VOICEMAIL_GOODBYE);
                let _ = self.play_to_end(goodbye.into_iter().collect()).await;
                self.hang_up_caller();
                Ending::new(CallStatus::Answered, cause, Some(200))
            }
            Err(cause) => Ending::new(CallStatus::Answered, cause, None),
        }
    }

    async fn listen_to_voicemail_inner(
        &mut self,
        company: &Company,
        mailbox: &VoicemailBox,
    ) -> Result<String, String> {
        let pin_entry = Gathering {
            max_digits: 10,
            timeout: KEY_TIMEOUT,
            inter_digit_timeout: Duration::from_secs(5),
            hash_ends: true,
        };
        let mut admitted = false;
        for _ in 0..PIN_ATTEMPTS {
            let prompt = self.prompt(&company.id, system::VOICEMAIL_ENTER_PIN);
            if let Gathered::Digits(pin) = self.collect(prompt.into_iter().collect(), pin_entry).await?
                && voicemail::verify_pin(mailbox, pin.trim_end_matches('#'))
            {
                admitted = true;
                break;
            }
            tracing::info!(mailbox = %mailbox.name, "wrong voicemail PIN");
        }
        if !admitted {
            return Ok("wrong PIN".into());
        }
        let app = self.engine.app.clone();
        let messages = voicemail::messages(&app, &company.id, &mailbox.name).map_err(|e| e.to_string())?;
        if messages.is_empty() {
            let none = self.prompt(&company.id, system::VOICEMAIL_NO_MESSAGES);
            self.play_to_end(none.into_iter().collect()).await?;
            return Ok("no voicemail messages".into());
        }
        let intro = self.prompt(&company.id, system::VOICEMAIL_NEW_MESSAGES);
        self.play_to_end(intro.into_iter().collect()).await?;
        for message in messages {
            let audio = match voicemail::message_audio(&app, &message) {
                Ok(audio) => audio,
                Err(error) => {
                    tracing::error!(%error, id = %message.id, "voicemail message unreadable; skipped");
                    continue;
                }
            };
            loop {
                let menu = self.prompt(&company.id, system::VOICEMAIL_MESSAGE_MENU);
                let items: Vec<Audio> = std::iter::once(audio.clone()).chain(menu).collect();
                match self.collect(items, ONE_KEY).await? {
                    Gathered::Digits(key) if key == "1" => continue,
                    Gathered::Digits(key) if key == "7" => {
                        if let Err(error) = voicemail::delete_message(&app, &message) {
                            tracing::error!(%error, id = %message.id, "voicemail message not deleted");
                        }
                        break;
                    }
                    _ => {
                        if let Err(error) = voicemail::mark_heard(&app, &message) {
                            tracing::error!(%error, id = %message.id, "voicemail message not marked heard");
                        }
                        break;
                    }
                }
            }
        }
        Ok("voicemail messages heard".into())
    }
}
