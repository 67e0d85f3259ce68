//! Hearing other hosts' changes: a connection of its own that `LISTEN`s on one channel.
//! A transaction's `pg_notify` is delivered when it commits, to every listening host
//! (its own too). After a reconnect the host may have missed some, and is told so.

use std::time::Duration;

use ::postgres::fallible_iterator::FallibleIterator;
use ::postgres::{Client, Config, NoTls};

use crate::store::Heard;

/// The channel every host notifies and listens on.
pub(super) const CHANNEL: &str = "centralita_changes";
/// How often a quiet connection is checked, and how long to wait before reconnecting.
const CHECK_EVERY: Duration = Duration::from_secs(5);
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// The payload of one change: topic and subject on two lines.
pub(super) fn payload(topic: &str, subject: &str) -> String {
    format!("{topic}\n{subject}")
}

fn heard(payload: &str) -> Heard {
    match payload.split_once('\n') {
        Some((topic, subject)) => Heard::Change { topic: topic.to_string(), subject: subject.to_string() },
        None => Heard::Missed,
    }
}

/// What a listener says after hearing something: go on, or stop (nobody listens any more).
pub(super) type Listening = bool;

/// Listen on a thread of its own until `on_heard` says to stop.
pub(super) fn spawn(config: Config, on_heard: Box<dyn Fn(Heard) -> Listening + Send>) {
    let started = std::thread::Builder::new().name("store-listen".into()).spawn(move || {
        loop {
            match config.connect(NoTls) {
                Ok(client) => match listen(client, &*on_heard) {
                    Ok(()) => return,
                    Err(error) => tracing::warn!(%error, "lost the store's change feed; reconnecting"),
                },
                Err(error) => tracing::warn!(%error, "cannot reach the store for its change feed"),
            }
            std::thread::sleep(RECONNECT_AFTER);
        }
    });
    if let Err(error) = started {
        tracing::error!(%error, "cannot start the store's change listener: other hosts' changes go unheard");
    }
}

/// Listen until `on_heard` says to stop (`Ok`) or the connection fails.
fn listen(mut client: Client, on_heard: &dyn Fn(Heard) -> Listening) -> Result<(), ::postgres::Error> {
    client.batch_execute(&format!("LISTEN {CHANNEL}"))?;
    // Changes committed before LISTEN took effect were not heard.
    if !on_heard(Heard::Missed) {
        return Ok(());
    }
    loop {
        {
            let mut notifications = client.notifications();
            let mut quiet = notifications.timeout_iter(CHECK_EVERY);
            while let Some(notification) = quiet.next()? {
                if !on_heard(heard(notification.payload())) {
                    return Ok(());
                }
            }
        }
        // Quiet for a while: is anybody still listening, and is the connection there?
        if !on_heard(Heard::Nothing) {
            return Ok(());
        }
        client.batch_execute("SELECT 1")?;
    }
}
