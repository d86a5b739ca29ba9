//! Back-off for retried queue records: doubling delays with "equal jitter" (half fixed, half
//! random), so retries of many records that failed together (e.g. on Viber's rate limit) spread
//! out instead of coming back at the same instant.

use std::time::Duration;

/// Delays that double after each failed receive, from `first` up to `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
}

impl Backoff {
    /// The ceiling of the delay after the `receive_count`-th receive failed (from 1).
    pub fn ceiling(&self, receive_count: u32) -> Duration {
        let doublings = receive_count.saturating_sub(1).min(20);
        self.first.saturating_mul(1 << doublings).min(self.max)
    }

    /// The delay before the next attempt: between half the ceiling and the ceiling, placed by
    /// `unit` (in `[0, 1]`; see [`random_unit`]).
    pub fn delay(&self, receive_count: u32, unit: f64) -> Duration {
        let ceiling = self.ceiling(receive_count);
        let half = ceiling / 2;
        half + half.mul_f64(unit.clamp(0.0, 1.0))
    }
}

/// A random number in `[0, 1]` from the OS source (0.5 if it is unavailable).
pub fn random_unit() -> f64 {
    let mut bytes = [0u8; 4];
    match getrandom::fill(&mut bytes) {
        Ok(()) => f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX),
        Err(_) => 0.5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: Backoff = Backoff {
        first: Duration::from_secs(2),
        max: Duration::from_secs(60),
    };

    #[test]
    fn the_ceiling_doubles_and_is_capped() {
        assert_eq!(POLICY.ceiling(1), Duration::from_secs(2));
        assert_eq!(POLICY.ceiling(2), Duration::from_secs(4));
        assert_eq!(POLICY.ceiling(5), Duration::from_secs(32));
        assert_eq!(POLICY.ceiling(6), Duration::from_secs(60));
        assert_eq!(POLICY.ceiling(u32::MAX), Duration::from_secs(60));
    }

    #[test]
    fn jitter_stays_between_half_the_ceiling_and_the_ceiling() {
        assert_eq!(POLICY.delay(3, 0.0), Duration::from_secs(4));
        assert_eq!(POLICY.delay(3, 1.0), Duration::from_secs(8));
        assert_eq!(POLICY.delay(3, 7.0), Duration::from_secs(8));
        for _ in 0..100 {
            let delay = POLICY.delay(4, random_unit());
            assert!(
                delay >= Duration::from_secs(8) && delay <= Duration::from_secs(16),
                "{delay:?}"
            );
        }
    }
}
