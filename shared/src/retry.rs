//! Retried queue records, the same everywhere: a consumer's handler says which failed records
//! to retry ([`Retry`]), and [`postpone_retries`] makes them visible again after its function's
//! [`Backoff`] (doubling delays with "equal jitter": half fixed, half random, so records that
//! failed together, e.g. on Viber's rate limit, spread out instead of coming back at once). Both
//! Lambdas and both local consumers (in memory and on SQS) call it, through [`Postpone`].

use std::time::Duration;

use crate::ports::Postpone;

/// A record its handler reported as failed, with what its back-off needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retry {
    pub receipt_handle: String,
    /// SQS's `ApproximateReceiveCount` of the failed record, from 1.
    pub receive_count: u32,
    /// The later records of its FIFO message group in the same batch, reported failed without
    /// being processed (so the group keeps its order). SQS returns no message of a group while
    /// any of its messages is in flight, so left in flight they would hold the group for the
    /// queue's whole visibility timeout, whatever the failed record's delay: they are released
    /// at once, and wait behind the failed record, in flight for its delay, which comes back
    /// first.
    pub held_back: Vec<String>,
}

impl Retry {
    pub fn new(receipt_handle: String, receive_count: u32) -> Self {
        Self {
            receipt_handle,
            receive_count,
            held_back: Vec::new(),
        }
    }
}

/// How a queue's failed records come back: the consumer's back-off, and the queue's
/// `maxReceiveCount` (after which its redrive policy moves a record to the DLQ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub backoff: Backoff,
    pub max_receives: u32,
}

impl RetryPolicy {
    /// The delay before a record that failed on its `receive_count`-th receive is received
    /// again; `unit` places the jitter ([`random_unit`]). None on the last receive: the record
    /// goes to the DLQ on its next receive, and waiting would only hold its group back.
    pub fn delay_after(&self, receive_count: u32, unit: f64) -> Duration {
        if receive_count >= self.max_receives {
            Duration::ZERO
        } else {
            self.backoff.delay(receive_count, unit)
        }
    }
}

/// Makes each retried record visible again after `policy`'s delay, and the records held back
/// behind it at once (they are received after it, in order). A change that fails is logged: the
/// record then comes back after the queue's visibility timeout, which is slower but loses
/// nothing.
pub async fn postpone_retries(queue: &dyn Postpone, policy: &RetryPolicy, retries: &[Retry]) {
    for retry in retries {
        let delay = policy.delay_after(retry.receive_count, random_unit());
        let receipts = std::iter::once((&retry.receipt_handle, delay))
            .chain(retry.held_back.iter().map(|held_back| (held_back, Duration::ZERO)));
        for (receipt_handle, delay) in receipts {
            if let Err(error) = queue.postpone(receipt_handle, delay).await {
                tracing::warn!(%error, "back-off not set; the record returns after the visibility timeout");
            }
        }
    }
}

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
    fn the_last_receive_is_not_delayed() {
        let policy = RetryPolicy {
            backoff: POLICY,
            max_receives: 5,
        };
        assert_eq!(policy.delay_after(1, 1.0), Duration::from_secs(2));
        assert_eq!(policy.delay_after(4, 1.0), Duration::from_secs(16));
        assert_eq!(policy.delay_after(5, 1.0), Duration::ZERO);
        assert_eq!(policy.delay_after(6, 1.0), Duration::ZERO);
    }

    /// Records what it was asked, failing for one receipt handle.
    #[derive(Default)]
    struct Recorder {
        postponed: std::sync::Mutex<Vec<(String, Duration)>>,
    }

    #[async_trait::async_trait]
    impl Postpone for Recorder {
        async fn postpone(&self, receipt_handle: &str, delay: Duration) -> Result<(), crate::ports::QueueError> {
            self.postponed.lock().unwrap().push((receipt_handle.to_owned(), delay));
            match receipt_handle {
                "gone" => Err(crate::ports::QueueError::Rejected("expired receipt".into())),
                _ => Ok(()),
            }
        }
    }

    #[tokio::test]
    async fn a_retry_is_postponed_and_the_records_held_back_behind_it_released_at_once() {
        let policy = RetryPolicy {
            backoff: Backoff {
                first: Duration::from_secs(2),
                max: Duration::from_secs(2),
            },
            max_receives: 5,
        };
        let retries = [
            Retry {
                held_back: vec!["a2".into(), "a3".into()],
                ..Retry::new("a1".into(), 1)
            },
            Retry::new("gone".into(), 2),
            Retry::new("b1".into(), 5),
        ];
        let queue = Recorder::default();
        postpone_retries(&queue, &policy, &retries).await;
        let postponed = queue.postponed.into_inner().unwrap();
        let handles: Vec<&str> = postponed.iter().map(|(h, _)| h.as_str()).collect();
        assert_eq!(handles, ["a1", "a2", "a3", "gone", "b1"], "a failure stops nothing");
        assert!((Duration::from_secs(1)..=Duration::from_secs(2)).contains(&postponed[0].1));
        assert_eq!(
            (postponed[1].1, postponed[2].1),
            (Duration::ZERO, Duration::ZERO),
            "a2 and a3 wait behind a1, which is still in flight"
        );
        assert_eq!(
            postponed[4].1,
            Duration::ZERO,
            "the last receive goes on to the DLQ at once"
        );
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
