//! A per-company budget of messages, refilled continuously (a token bucket): a module that
//! sends in a loop gets "rate limited" errors instead of flooding the SMTP server, while a
//! burst of a few missed calls still goes out at once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Messages a company's modules may send per minute (in a burst, or spread out).
pub const MODULE_MAILS_PER_MINUTE: u32 = 60;

/// Budgets per company.
#[derive(Debug)]
pub struct RateLimiter {
    capacity: f64,
    /// Messages regained per second.
    refill_per_s: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl RateLimiter {
    /// `count` messages per `period`.
    pub fn new(count: u32, period: Duration) -> RateLimiter {
        RateLimiter {
            capacity: f64::from(count),
            refill_per_s: f64::from(count) / period.as_secs_f64().max(f64::EPSILON),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `company` may send one more message at `now`; takes it from the budget.
    pub fn admit(&self, company: &str, now: Instant) -> bool {
        let mut buckets = crate::sync::lock(&self.buckets);
        let bucket =
            buckets.entry(company.to_string()).or_insert(Bucket { tokens: self.capacity, updated: now });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.refill_per_s).min(self.capacity);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_up_to_the_budget_passes_then_one_more_per_refill() {
        let limiter = RateLimiter::new(60, Duration::from_secs(60));
        let start = Instant::now();
        assert!((0..60).all(|_| limiter.admit("acme", start)));
        assert!(!limiter.admit("acme", start), "the 61st message of the minute");
        assert!(!limiter.admit("acme", start + Duration::from_millis(500)));
        assert!(limiter.admit("acme", start + Duration::from_secs(1)), "one regained per second");
        assert!(!limiter.admit("acme", start + Duration::from_secs(1)));
    }

    #[test]
    fn companies_have_budgets_of_their_own() {
        let limiter = RateLimiter::new(2, Duration::from_secs(60));
        let now = Instant::now();
        assert!(limiter.admit("acme", now) && limiter.admit("acme", now));
        assert!(!limiter.admit("acme", now));
        assert!(limiter.admit("globex", now), "acme's loop must not silence globex");
    }

    #[test]
    fn an_idle_company_regains_no_more_than_the_budget() {
        let limiter = RateLimiter::new(3, Duration::from_secs(60));
        let now = Instant::now();
        assert!(limiter.admit("acme", now));
        let later = now + Duration::from_secs(3600);
        assert_eq!((0..10).filter(|_| limiter.admit("acme", later)).count(), 3);
    }
}
