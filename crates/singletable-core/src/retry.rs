//! The retry policy a table applies to every request: how many attempts, how long to wait
//! between them, and for how long in all.
//!
//! Waits are exponential with full jitter (a random wait below `base * 2^attempt`, capped), so
//! that concurrent requests that failed together do not retry together.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// How a table retries requests that failed for a passing reason: throttling, a 5xx answer, a
/// reset connection, a timeout.
///
/// The table owns retries: it builds its client with the SDK's own retries turned off, so
/// attempts never multiply (a table with 10 attempts makes at most 10 requests, not 10 × the
/// SDK's 3). Validation errors and failed conditions are never retried.
///
/// ```
/// use std::time::Duration;
/// use singletable_core::RetryPolicy;
///
/// let policy = RetryPolicy::default()
///     .max_attempts(12)
///     .base_delay(Duration::from_millis(20))
///     .max_delay(Duration::from_secs(2))
///     .deadline(Duration::from_secs(60));
/// assert_eq!(policy.attempts(), 12);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    max_attempts: u32,
    base_delay: Duration,
    max_delay: Duration,
    deadline: Duration,
}

impl Default for RetryPolicy {
    /// 10 attempts, waits from 25 ms up to 2 s, 30 s in all: at a 25% failure rate, a request
    /// still fails after all its attempts about once in a million.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(25),
            max_delay: Duration::from_secs(2),
            deadline: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// One attempt: no retry at all.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// Attempts per request, the first included (at least 1).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The ceiling of the first wait; each retry doubles it up to [`max_delay`](Self::max_delay).
    pub fn base_delay(mut self, delay: Duration) -> Self {
        self.base_delay = delay;
        self
    }

    /// The largest wait between two attempts.
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// No retry starts later than this after the first attempt.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// Attempts per request, the first included.
    pub fn attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The total time after which no retry starts.
    pub fn total_deadline(&self) -> Duration {
        self.deadline
    }

    /// The largest wait between two attempts.
    pub(crate) fn max_delay_of(&self) -> Duration {
        self.max_delay
    }

    /// The wait before attempt `attempt` (1 for the first retry).
    pub(crate) fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(self.max_delay);
        full_jitter(ceiling)
    }
}

/// A random wait below `ceiling`.
pub(crate) fn full_jitter(ceiling: Duration) -> Duration {
    // A fresh `RandomState` is randomly keyed: enough randomness for spreading retries, with
    // no generator to share between tasks.
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(0);
    let fraction = (hasher.finish() % 1000) as f64 / 1000.0;
    // Below 1, so the product never overflows.
    ceiling.mul_f64(fraction)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_to_the_cap_and_never_overflow() {
        let policy = RetryPolicy::default();
        for attempt in [1, 2, 10, 40, u32::MAX] {
            assert!(policy.delay(attempt) <= Duration::from_secs(2));
        }
        let huge = RetryPolicy::default()
            .base_delay(Duration::MAX)
            .max_delay(Duration::MAX);
        for attempt in [0, 1, 17, u32::MAX] {
            let _ = huge.delay(attempt);
        }
        assert_eq!(RetryPolicy::default().max_attempts(0).attempts(), 1);
    }
}
