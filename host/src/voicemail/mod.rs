//! Voicemail (SPEC.md §5): finding a company's boxes, their greeting and PIN, and the
//! messages left in them — stored as a WAV file plus a record, mailed to the box's address,
//! listened to, deleted, and purged after the box's retention period.
//!
//! The call side (playing the greeting, recording after the beep, the PIN menu) is the
//! host's media engine; it calls the functions here.
//!
//! - [`pin`]: how PINs are stored and checked.
//! - [`purge`]: deleting messages past their box's retention.

mod files;
mod mail;
pub mod pin;
pub mod purge;

use chrono::{DateTime, Utc};

pub use purge::{PURGE_INTERVAL, purge_expired, purge_loop};

use crate::app::App;
use crate::media::audio::{Audio, wav};
use crate::prompts::system::VOICEMAIL_GREETING;
use crate::routing::call::parse_time_zone;
use crate::store::records::{VoicemailBox, VoicemailMessage};
use crate::store::{
    COMPANIES, Read, StoreError, Tx, VOICEMAIL_BOXES, VOICEMAIL_MESSAGES, company_key, company_prefix,
};

/// Why a voicemail operation failed.
#[derive(Debug, thiserror::Error)]
pub enum VoicemailError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A message's audio file could not be written, read or removed.
    #[error("{path}: {source}")]
    Io { path: std::path::PathBuf, source: std::io::Error },
    /// The box was deleted while the message was being recorded.
    #[error("{company} has no voicemail box {name:?}")]
    NoSuchBox { company: String, name: String },
    /// The record exists but its audio file does not.
    #[error("the audio of voicemail message {0} is missing")]
    MissingAudio(String),
    /// The audio file is not a WAV file the host wrote.
    #[error("the audio of voicemail message {id} is unreadable: {reason}")]
    BadAudio { id: String, reason: String },
    /// A company, box or message name that cannot be part of a file name.
    #[error("{0:?} cannot be part of a file name")]
    UnsafeName(String),
}

/// The key of a message row: `company NUL box NUL received_at NUL id`, the time as
/// zero-padded epoch milliseconds so that a box's messages list oldest first.
pub fn message_key(message: &VoicemailMessage) -> String {
    // No message is received before 1970; clamping keeps a wrong clock from breaking the order.
    let millis = u64::try_from(message.received_at.timestamp_millis()).unwrap_or(0);
    format!("{}\0{}\0{millis:020}\0{}", message.company, message.mailbox, message.id)
}

/// The key prefix of every message of one box.
pub fn mailbox_prefix(company: &str, mailbox: &str) -> String {
    format!("{company}\0{mailbox}\0")
}

/// The box `name` of `company`.
pub fn find_by_name(app: &App, company: &str, name: &str) -> Result<Option<VoicemailBox>, StoreError> {
    app.store.read(|r| r.get(&VOICEMAIL_BOXES, &company_key(company, name)))
}

/// The box of `company` that dialling `number` reaches.
pub fn find_by_number(app: &App, company: &str, number: &str) -> Result<Option<VoicemailBox>, StoreError> {
    let boxes = app.store.read(|r| r.scan(&VOICEMAIL_BOXES, &company_prefix(company)))?;
    Ok(boxes.into_iter().find(|b| b.number == number))
}

/// What a caller hears before the beep: the box's own prompt, else the system
/// [`VOICEMAIL_GREETING`], else (no prompt at all) nothing.
pub fn greeting(app: &App, mailbox: &VoicemailBox) -> Audio {
    let own = mailbox.greeting.as_deref().and_then(|name| {
        let audio = app.prompts.get(&mailbox.company, name);
        if audio.is_none() {
            tracing::warn!(company = %mailbox.company, mailbox = %mailbox.name, prompt = name, "the box's greeting prompt is missing; playing the system greeting");
        }
        audio
    });
    own.or_else(|| app.prompts.get(&mailbox.company, VOICEMAIL_GREETING)).unwrap_or_else(|| {
        tracing::warn!(company = %mailbox.company, prompt = VOICEMAIL_GREETING, "no voicemail greeting prompt; the caller hears only the beep");
        Audio::from_samples(Vec::new())
    })
}

/// Whether `pin` is the box's PIN (compared in constant time).
pub fn verify_pin(mailbox: &VoicemailBox, pin: &str) -> bool {
    pin::verify(&mailbox.pin_hash, pin)
}

/// Store a recorded message (WAV file + record) and mail it to the box's address with the
/// WAV attached (if the box has an email). Runs blocking I/O: call it from
/// `spawn_blocking`. A mail that cannot be queued is logged; the message is kept.
pub fn save_message(
    app: &App,
    mailbox: &VoicemailBox,
    caller: &str,
    called: &str,
    audio: &Audio,
) -> Result<VoicemailMessage, VoicemailError> {
    save_message_at(app, mailbox, caller, called, audio, Utc::now())
}

/// [`save_message`] with the time it was received given (tests of the retention purge).
pub fn save_message_at(
    app: &App,
    mailbox: &VoicemailBox,
    caller: &str,
    called: &str,
    audio: &Audio,
    received_at: DateTime<Utc>,
) -> Result<VoicemailMessage, VoicemailError> {
    let wav = wav::write_mono(audio);
    let message = VoicemailMessage {
        id: hex::encode(rand::random::<[u8; 8]>()),
        company: mailbox.company.clone(),
        mailbox: mailbox.name.clone(),
        caller: caller.to_string(),
        called: called.to_string(),
        received_at,
        duration_ms: audio.duration().as_millis() as u64,
        heard: false,
        size: wav.len() as u64,
    };
    // The file first: a crash before the record leaves an unlisted file, never a listed
    // message without audio.
    files::write(app, &message.company, &message.mailbox, &message.id, &wav)?;
    let stored = app.store.write(|tx| {
        if tx.get(&VOICEMAIL_BOXES, &company_key(&message.company, &message.mailbox))?.is_none() {
            return Err(VoicemailError::NoSuchBox {
                company: message.company.clone(),
                name: message.mailbox.clone(),
            });
        }
        tx.put(&VOICEMAIL_MESSAGES, &message_key(&message), &message)?;
        Ok(())
    });
    if let Err(error) = stored {
        let _ = files::remove(app, &message.company, &message.mailbox, &message.id);
        return Err(error);
    }
    tracing::info!(company = %message.company, mailbox = %message.mailbox, id = %message.id, caller = %message.caller, duration_ms = message.duration_ms, "voicemail message saved");
    if !mailbox.email.is_empty() {
        send_mail(app, mailbox, &message, wav);
    }
    Ok(message)
}

/// Queue the mail of a new message; a failure is logged only (the message is stored).
fn send_mail(app: &App, mailbox: &VoicemailBox, message: &VoicemailMessage, wav: Vec<u8>) {
    let zone = match app.store.read(|r| r.get(&COMPANIES, &mailbox.company)) {
        Ok(Some(company)) => parse_time_zone(&company.time_zone).unwrap_or(chrono_tz::UTC),
        _ => chrono_tz::UTC,
    };
    if let Err(error) = app.mail.send(mail::message_mail(mailbox, message, zone, wav)) {
        tracing::warn!(company = %message.company, mailbox = %message.mailbox, id = %message.id, to = %mailbox.email, %error, "voicemail mail not sent; the message is kept");
    }
}

/// The messages of box `mailbox` of `company`, oldest first.
pub fn messages(app: &App, company: &str, mailbox: &str) -> Result<Vec<VoicemailMessage>, StoreError> {
    app.store.read(|r| r.scan(&VOICEMAIL_MESSAGES, &mailbox_prefix(company, mailbox)))
}

/// Message `id` of box `mailbox` of `company`.
pub fn find_message(
    app: &App,
    company: &str,
    mailbox: &str,
    id: &str,
) -> Result<Option<VoicemailMessage>, StoreError> {
    Ok(messages(app, company, mailbox)?.into_iter().find(|m| m.id == id))
}

/// The WAV file of `message`, as stored.
pub fn message_wav(app: &App, message: &VoicemailMessage) -> Result<Vec<u8>, VoicemailError> {
    files::read(app, &message.company, &message.mailbox, &message.id)?
        .ok_or_else(|| VoicemailError::MissingAudio(message.id.clone()))
}

/// The audio of `message`, to play it by phone.
pub fn message_audio(app: &App, message: &VoicemailMessage) -> Result<Audio, VoicemailError> {
    let bytes = message_wav(app, message)?;
    wav::read(&bytes).map_err(|e| VoicemailError::BadAudio { id: message.id.clone(), reason: e.to_string() })
}

/// Mark `message` as listened to.
pub fn mark_heard(app: &App, message: &VoicemailMessage) -> Result<(), StoreError> {
    set_heard(app, message, true).map(|_| ())
}

/// Set whether `message` was listened to; returns the stored message, or `None` when it
/// no longer exists.
pub fn set_heard(
    app: &App,
    message: &VoicemailMessage,
    heard: bool,
) -> Result<Option<VoicemailMessage>, StoreError> {
    app.store.write(|tx| set_heard_in(tx, message, heard))
}

/// [`set_heard`] inside the transaction `tx` (so the API commits its audit entry with it).
pub fn set_heard_in(
    tx: &mut Tx,
    message: &VoicemailMessage,
    heard: bool,
) -> Result<Option<VoicemailMessage>, StoreError> {
    let key = message_key(message);
    let Some(mut stored) = tx.get(&VOICEMAIL_MESSAGES, &key)? else {
        return Ok(None);
    };
    stored.heard = heard;
    tx.put(&VOICEMAIL_MESSAGES, &key, &stored)?;
    Ok(Some(stored))
}

/// Delete `message`: its record, then its file. Returns whether it existed.
pub fn delete_message(app: &App, message: &VoicemailMessage) -> Result<bool, VoicemailError> {
    let existed = app.store.write(|tx| tx.delete(&VOICEMAIL_MESSAGES, &message_key(message)))?;
    remove_audio(app, message);
    Ok(existed)
}

/// Remove the file of a message whose record is gone; a failure leaves an unlisted file
/// and is logged.
pub fn remove_audio(app: &App, message: &VoicemailMessage) {
    if let Err(error) = files::remove(app, &message.company, &message.mailbox, &message.id) {
        tracing::warn!(company = %message.company, mailbox = %message.mailbox, id = %message.id, %error, "voicemail audio not removed");
    }
}

/// Remove the audio of every message of a box whose records were deleted with it.
pub fn remove_box_audio(app: &App, company: &str, mailbox: &str) {
    if let Err(error) = files::remove_box(app, company, mailbox) {
        tracing::warn!(company, mailbox, %error, "voicemail audio of a deleted box not removed");
    }
}

#[cfg(test)]
mod tests;
