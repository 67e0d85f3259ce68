//! The consumer of the mail queue: a thread of its own running a small tokio runtime, so
//! delivery never takes a worker from calls and a mailer can be made before (or without)
//! the host's runtime. Up to [`MAX_CONCURRENT_DELIVERIES`] messages are in flight at once;
//! a failed delivery is tried again after each of the settings' retry delays unless the
//! server refused it for good (a 5xx answer), then counted as failed and logged.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::Serialize;
use tokio::sync::{Semaphore, mpsc};
use utoipa::ToSchema;

use super::rate_limit::{MODULE_MAILS_PER_MINUTE, RateLimiter};
use super::{MailError, MailSettings, QUEUE_CAPACITY};

/// Messages handed to the SMTP server at the same time at most.
pub const MAX_CONCURRENT_DELIVERIES: usize = 4;

/// A composed message waiting for delivery.
pub(super) struct Job {
    pub message: Message,
    /// The recipients as given, for logs.
    pub to: String,
    /// Its raw size, released from the queue's byte budget once it is done.
    pub size: usize,
}

/// What every clone of one mailer shares.
#[derive(Debug)]
pub(super) struct Shared {
    pub queue: mpsc::Sender<Job>,
    pub from: Mailbox,
    pub counters: Arc<Counters>,
    pub queued_bytes: Arc<AtomicUsize>,
    pub limiter: RateLimiter,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job").field("to", &self.to).field("size", &self.size).finish()
    }
}

/// Delivery counters since the mailer started.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub queued: AtomicU64,
    delivered: AtomicU64,
    failed: AtomicU64,
    retries: AtomicU64,
}

impl Counters {
    pub fn snapshot(&self) -> MailCounts {
        MailCounts {
            queued: self.queued.load(Ordering::Relaxed),
            delivered: self.delivered.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
        }
    }
}

/// What a mailer did since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct MailCounts {
    /// Messages accepted onto the queue.
    pub queued: u64,
    /// Messages the SMTP server accepted.
    pub delivered: u64,
    /// Messages given up on (refused for good, or every retry failed).
    pub failed: u64,
    /// Delivery attempts repeated after a failure.
    pub retries: u64,
}

/// Check `settings` and start the delivery thread.
pub(super) fn start(settings: &MailSettings) -> Result<Arc<Shared>, MailError> {
    let from = settings.sender()?;
    let transport = settings.transport()?;
    let (queue, jobs) = mpsc::channel(QUEUE_CAPACITY);
    let counters = Arc::new(Counters::default());
    let queued_bytes = Arc::new(AtomicUsize::new(0));
    let worker = Worker {
        counters: counters.clone(),
        queued_bytes: queued_bytes.clone(),
        retry_delays: settings.retry_delays.clone(),
        server: settings.redacted_url(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| MailError::Start(e.to_string()))?;
    std::thread::Builder::new()
        .name("mail-delivery".into())
        .spawn(move || runtime.block_on(worker.run(transport, jobs)))
        .map_err(|e| MailError::Start(e.to_string()))?;
    tracing::info!(server = %settings.redacted_url(), from = %settings.from, "mail delivery through SMTP");
    Ok(Arc::new(Shared {
        queue,
        from,
        counters,
        queued_bytes,
        limiter: RateLimiter::new(MODULE_MAILS_PER_MINUTE, Duration::from_secs(60)),
    }))
}

struct Worker {
    counters: Arc<Counters>,
    queued_bytes: Arc<AtomicUsize>,
    retry_delays: Vec<Duration>,
    /// The server's URL without password, for logs.
    server: String,
}

impl Worker {
    /// Deliver jobs until every mailer clone is gone.
    async fn run(
        self,
        transport: lettre::transport::smtp::AsyncSmtpTransportBuilder,
        mut jobs: mpsc::Receiver<Job>,
    ) {
        let transport: AsyncSmtpTransport<Tokio1Executor> = transport.build();
        let slots = Arc::new(Semaphore::new(MAX_CONCURRENT_DELIVERIES));
        let worker = Arc::new(self);
        while let Some(job) = jobs.recv().await {
            // The semaphore is never closed, so acquiring only waits.
            let Ok(slot) = slots.clone().acquire_owned().await else { break };
            let (worker, transport) = (worker.clone(), transport.clone());
            tokio::spawn(async move {
                worker.deliver(&transport, job).await;
                drop(slot);
            });
        }
        // Let the messages in flight finish before the runtime stops.
        let _ = slots.acquire_many(MAX_CONCURRENT_DELIVERIES as u32).await;
    }

    async fn deliver(&self, transport: &AsyncSmtpTransport<Tokio1Executor>, job: Job) {
        let mut delays = self.retry_delays.iter();
        let mut attempt = 1;
        loop {
            match transport.send(job.message.clone()).await {
                Ok(_) => {
                    self.counters.delivered.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(to = %job.to, attempt, "mail delivered");
                    break;
                }
                Err(error) => {
                    let next = (!error.is_permanent()).then(|| delays.next()).flatten();
                    let Some(delay) = next else {
                        self.counters.failed.fetch_add(1, Ordering::Relaxed);
                        tracing::error!(to = %job.to, server = %self.server, attempt, %error, "mail not delivered; giving up");
                        break;
                    };
                    self.counters.retries.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(to = %job.to, server = %self.server, attempt, %error, retry_in = ?delay, "mail delivery failed; will retry");
                    tokio::time::sleep(*delay).await;
                    attempt += 1;
                }
            }
        }
        self.queued_bytes.fetch_sub(job.size, Ordering::AcqRel);
    }
}
