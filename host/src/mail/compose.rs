//! An [`OutgoingMail`] as a MIME message: the text alone as `text/plain`, or with
//! attachments a `multipart/mixed` whose first part is the text and whose other parts are
//! the files, base64-encoded with their file name in `Content-Disposition`. Every address
//! and header value is checked here, so a module cannot inject headers through a subject
//! or a file name.

use lettre::Message;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Attachment, Body, Mailbox, Mailboxes, MultiPart, SinglePart};

use super::{MAX_RECIPIENTS, MAX_SUBJECT_BYTES, MailError, OutgoingMail};

/// Longest attachment file name accepted, in bytes.
const MAX_FILENAME_BYTES: usize = 255;

/// Bytes of the message's content before encoding: what the size cap is on.
pub(super) fn raw_size(mail: &OutgoingMail) -> usize {
    mail.text.len() + mail.attachments.iter().map(|a| a.bytes.len()).sum::<usize>()
}

/// The recipients of `to` (addresses separated by commas).
pub(super) fn recipients(to: &str) -> Result<Vec<Mailbox>, MailError> {
    if to.trim().is_empty() {
        return Err(MailError::NoRecipient);
    }
    if to.contains(char::is_control) {
        return Err(MailError::InvalidRecipient {
            address: to.to_string(),
            reason: "contains a control character".into(),
        });
    }
    let mut mailboxes = Vec::new();
    for address in to.split(',').map(str::trim).filter(|a| !a.is_empty()) {
        let mailbox = address.parse::<Mailboxes>().ok().and_then(|m| {
            let mut all = m.into_iter();
            let first = all.next()?;
            all.next().is_none().then_some(first)
        });
        match mailbox {
            Some(mailbox) => mailboxes.push(mailbox),
            None => {
                let reason = match address.parse::<Mailbox>() {
                    Err(error) => error.to_string(),
                    Ok(_) => "not one address".to_string(),
                };
                return Err(MailError::InvalidRecipient { address: address.to_string(), reason });
            }
        }
    }
    if mailboxes.is_empty() {
        return Err(MailError::NoRecipient);
    }
    if mailboxes.len() > MAX_RECIPIENTS {
        return Err(MailError::TooManyRecipients { count: mailboxes.len(), limit: MAX_RECIPIENTS });
    }
    Ok(mailboxes)
}

/// `mail` from `from`, ready to hand to the SMTP server.
pub(super) fn compose(from: &Mailbox, mail: &OutgoingMail) -> Result<Message, MailError> {
    let to = recipients(&mail.to)?;
    if mail.subject.contains(char::is_control) {
        return Err(MailError::InvalidSubject("contains a line break or another control character".into()));
    }
    if mail.subject.len() > MAX_SUBJECT_BYTES {
        return Err(MailError::InvalidSubject(format!("longer than {MAX_SUBJECT_BYTES} bytes")));
    }
    let mut builder = Message::builder().from(from.clone()).subject(mail.subject.clone());
    for mailbox in to {
        builder = builder.to(mailbox);
    }
    let text = SinglePart::plain(mail.text.clone());
    let built = if mail.attachments.is_empty() {
        builder.singlepart(text)
    } else {
        let mut parts = MultiPart::mixed().singlepart(text);
        for attachment in &mail.attachments {
            parts = parts.singlepart(attachment_part(attachment)?);
        }
        builder.multipart(parts)
    };
    // Every input was checked above; what lettre could still refuse is named as it says.
    built.map_err(|e| MailError::InvalidRecipient { address: mail.to.clone(), reason: e.to_string() })
}

fn attachment_part(attachment: &super::MailAttachment) -> Result<SinglePart, MailError> {
    let invalid = |reason: &str| MailError::InvalidAttachment {
        filename: attachment.filename.clone(),
        reason: reason.to_string(),
    };
    let name = attachment.filename.trim();
    if name.is_empty() {
        return Err(invalid("the file name is empty"));
    }
    if name.len() > MAX_FILENAME_BYTES || name.contains(char::is_control) || name.contains(['/', '\\', '"']) {
        return Err(invalid("the file name is too long or has a control character, a quote or a slash"));
    }
    let content_type = ContentType::parse(&attachment.content_type)
        .map_err(|_| invalid(&format!("{:?} is not a MIME type", attachment.content_type)))?;
    let body = Body::new_with_encoding(attachment.bytes.clone(), ContentTransferEncoding::Base64)
        .map_err(|_| invalid("cannot be base64-encoded"))?;
    Ok(Attachment::new(name.to_string()).body(body, content_type))
}
