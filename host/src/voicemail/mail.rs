//! The mail that carries a new voicemail message to its box's address, the recording
//! attached as WAV.

use chrono_tz::Tz;

use crate::mail::{MailAttachment, OutgoingMail};
use crate::store::records::{VoicemailBox, VoicemailMessage};

/// The mail announcing `message` left in `mailbox`, its time shown in `zone` (the
/// company's time zone).
pub(super) fn message_mail(
    mailbox: &VoicemailBox,
    message: &VoicemailMessage,
    zone: Tz,
    wav: Vec<u8>,
) -> OutgoingMail {
    let received = message.received_at.with_timezone(&zone).format("%Y-%m-%d %H:%M:%S %Z");
    let seconds = message.duration_ms.div_ceil(1000);
    let text = format!(
        "New voicemail message in box {name} ({number}).\n\
         \n\
         From: {caller}\n\
         Called: {called}\n\
         Received: {received}\n\
         Duration: {minutes}:{seconds:02}\n\
         \n\
         The recording is attached.\n",
        name = mailbox.name,
        number = mailbox.number,
        caller = printable(&message.caller),
        called = printable(&message.called),
        minutes = seconds / 60,
        seconds = seconds % 60,
    );
    OutgoingMail {
        to: mailbox.email.clone(),
        subject: format!("Voicemail from {}", printable(&message.caller)),
        text,
        attachments: vec![MailAttachment {
            filename: format!("voicemail-{}.wav", message.id),
            content_type: "audio/wav".into(),
            bytes: wav,
        }],
    }
}

/// `text` without control characters: caller numbers come from the network, and a line
/// break in one must not reach a mail header.
fn printable(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).collect()
}
