//! The mailer against a real SMTP server (aiosmtpd, as the black-box tests use it) and the
//! checks a message passes before it is queued.

use std::time::Duration;

use super::*;

use super::test_smtp as smtp;
use smtp::{MAIL_TIMEOUT, SmtpServer};

const FROM: &str = "Centralita <pbx@centralita.test>";

fn text_mail(to: &str) -> OutgoingMail {
    OutgoingMail {
        to: to.into(),
        subject: "Missed call from 600".into(),
        text: "Someone called.\nTwice.".into(),
        attachments: Vec::new(),
    }
}

fn wav_bytes() -> Vec<u8> {
    // Every byte value, so a wrong transfer encoding cannot go unnoticed.
    let mut bytes = b"RIFF\x24\x00\x00\x00WAVE".to_vec();
    bytes.extend((0..=255u8).cycle().take(3000));
    bytes
}

fn voicemail(to: &str) -> OutgoingMail {
    OutgoingMail {
        attachments: vec![MailAttachment {
            filename: "message.wav".into(),
            content_type: "audio/wav".into(),
            bytes: wav_bytes(),
        }],
        ..text_mail(to)
    }
}

fn from() -> lettre::message::Mailbox {
    FROM.parse().unwrap()
}

#[test]
fn a_disabled_mailer_refuses_with_not_configured() {
    let mailer = Mailer::disabled();
    assert!(!mailer.is_enabled());
    assert_eq!(mailer.send(text_mail("ana@acme.test")), Err(MailError::NotConfigured));
    assert_eq!(mailer.counts(), MailCounts::default());
}

#[test]
fn attachments_are_base64_parts_after_the_text() {
    let message = compose::compose(&from(), &voicemail("ana@acme.test, Bob <bob@acme.test>")).unwrap();
    let parsed = smtp::parse(&message.formatted());
    assert!(parsed.header("content-type").unwrap().starts_with("multipart/mixed"), "{}", parsed.raw);
    assert_eq!(parsed.header("from"), Some(FROM));
    assert_eq!(parsed.header("to"), Some("ana@acme.test, Bob <bob@acme.test>"));
    assert_eq!(parsed.subject(), "Missed call from 600");
    assert_eq!(parsed.text, "Someone called.\nTwice.");
    assert_eq!(parsed.attachments.len(), 1);
    let attachment = &parsed.attachments[0];
    assert_eq!(
        (attachment.filename.as_str(), attachment.content_type.as_str()),
        ("message.wav", "audio/wav")
    );
    assert_eq!(attachment.encoding, "base64");
    assert_eq!(attachment.bytes, wav_bytes());
}

#[test]
fn bad_addresses_header_injection_and_bad_attachments_are_refused_by_name() {
    let check = |mail: OutgoingMail, expected: fn(&MailError) -> bool| {
        let error = compose::compose(&from(), &mail).unwrap_err();
        assert!(expected(&error), "{mail:?}: {error}");
    };
    check(text_mail(""), |e| *e == MailError::NoRecipient);
    check(text_mail(" , "), |e| *e == MailError::NoRecipient);
    check(text_mail("not an address"), |e| matches!(e, MailError::InvalidRecipient { .. }));
    check(text_mail("ana@acme.test\r\nBcc: all@acme.test"), |e| {
        matches!(e, MailError::InvalidRecipient { .. })
    });
    let many = (0..=MAX_RECIPIENTS).map(|i| format!("u{i}@acme.test")).collect::<Vec<_>>().join(",");
    check(text_mail(&many), |e| matches!(e, MailError::TooManyRecipients { .. }));
    let mut injected = text_mail("ana@acme.test");
    injected.subject = "hello\r\nBcc: all@acme.test".into();
    check(injected, |e| matches!(e, MailError::InvalidSubject(_)));
    let mut bad_type = voicemail("ana@acme.test");
    bad_type.attachments[0].content_type = "not a type".into();
    check(bad_type, |e| matches!(e, MailError::InvalidAttachment { .. }));
    let mut bad_name = voicemail("ana@acme.test");
    bad_name.attachments[0].filename = "a\"; evil=\"b.wav".into();
    check(bad_name, |e| matches!(e, MailError::InvalidAttachment { .. }));
}

#[test]
fn a_message_over_the_size_cap_is_refused_before_it_is_queued() {
    let mailer = Mailer::smtp(&MailSettings::new("smtp://127.0.0.1:9", FROM)).unwrap();
    let mut huge = voicemail("ana@acme.test");
    huge.attachments[0].bytes = vec![0; MAX_MESSAGE_BYTES + 1];
    assert!(matches!(mailer.send(huge), Err(MailError::TooLarge { .. })));
    assert_eq!(mailer.counts().queued, 0);
}

#[test]
fn bad_settings_are_refused_when_the_mailer_is_made() {
    let error = Mailer::smtp(&MailSettings::new("http://mail.example.com", FROM)).unwrap_err();
    assert!(matches!(error, MailError::InvalidSmtpUrl { .. }), "{error}");
    let error = Mailer::smtp(&MailSettings::new("smtp://127.0.0.1:25", "nobody")).unwrap_err();
    assert!(matches!(error, MailError::InvalidFrom { .. }), "{error}");
}

#[test]
fn a_message_reaches_a_real_smtp_server_with_its_attachment() {
    let server = SmtpServer::start();
    let mailer = Mailer::smtp(&MailSettings::new(server.url(), FROM)).unwrap();
    mailer.send(voicemail("ana@acme.test")).unwrap();
    let received = server.wait_for(1, MAIL_TIMEOUT);
    assert_eq!(received[0].envelope_to(), "ana@acme.test");
    assert_eq!(received[0].header("from"), Some(FROM));
    assert_eq!(received[0].attachments[0].bytes, wav_bytes());
    wait_until(|| mailer.counts().delivered == 1);
    assert_eq!(mailer.counts(), MailCounts { queued: 1, delivered: 1, failed: 0, retries: 0 });
}

#[test]
fn a_failed_delivery_is_retried_until_the_server_is_back() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let settings = MailSettings {
        retry_delays: vec![Duration::from_millis(300); 40],
        ..MailSettings::new(format!("smtp://127.0.0.1:{port}"), FROM)
    };
    let mailer = Mailer::smtp(&settings).unwrap();
    mailer.send(text_mail("ana@acme.test")).unwrap();
    wait_until(|| mailer.counts().retries >= 1);
    let server = SmtpServer::start_on(port);
    let received = server.wait_for(1, MAIL_TIMEOUT);
    assert_eq!(received[0].subject(), "Missed call from 600");
    wait_until(|| mailer.counts().delivered == 1);
    assert_eq!(mailer.counts().failed, 0);
}

#[test]
fn a_delivery_that_keeps_failing_is_counted_as_failed() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let settings = MailSettings {
        retry_delays: vec![Duration::from_millis(10); 2],
        ..MailSettings::new(format!("smtp://127.0.0.1:{port}"), FROM)
    };
    let mailer = Mailer::smtp(&settings).unwrap();
    mailer.send(text_mail("ana@acme.test")).unwrap();
    wait_until(|| mailer.counts().failed == 1);
    assert_eq!(mailer.counts(), MailCounts { queued: 1, delivered: 0, failed: 1, retries: 2 });
}

#[test]
fn a_company_module_is_rate_limited_but_the_host_and_other_companies_are_not() {
    let settings = MailSettings { retry_delays: Vec::new(), ..MailSettings::new("smtp://127.0.0.1:9", FROM) };
    let mailer = Mailer::smtp(&settings).unwrap();
    for _ in 0..MODULE_MAILS_PER_MINUTE {
        mailer.send_from_module("acme", text_mail("ana@acme.test")).unwrap();
    }
    let refused = mailer.send_from_module("acme", text_mail("ana@acme.test")).unwrap_err();
    assert!(
        matches!(refused, MailError::RateLimited { per_minute: MODULE_MAILS_PER_MINUTE, .. }),
        "{refused}"
    );
    mailer.send_from_module("globex", text_mail("bob@globex.test")).unwrap();
    mailer.send(text_mail("ana@acme.test")).unwrap();
}

/// Wait (bounded) for `condition`, which the delivery thread makes true.
fn wait_until(condition: impl Fn() -> bool) {
    let started = std::time::Instant::now();
    while !condition() {
        assert!(started.elapsed() < MAIL_TIMEOUT, "the condition never held");
        std::thread::sleep(Duration::from_millis(20));
    }
}
