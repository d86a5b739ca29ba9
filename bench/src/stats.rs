//! The few statistics and units the reports need.

use std::time::Duration;

pub const BYTES_PER_MB: f64 = 1_000_000.0;
pub const BYTES_PER_MIB: f64 = 1_048_576.0;

pub fn mean(samples: &[Duration]) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    samples.iter().sum::<Duration>() / samples.len() as u32
}

/// Nearest-rank percentile (`p` in 0–100) of samples sorted ascending: an observed value, never
/// an interpolation, so p99 of 500 runs is the 5th-slowest run.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Milliseconds with two decimals, the unit of the serving figures.
pub fn millis(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1e3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p99_of_a_hundred_samples_is_the_second_slowest() {
        let sorted: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&sorted, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&sorted, 100.0), Duration::from_millis(100));
        assert_eq!(percentile(&sorted[..1], 99.0), Duration::from_millis(1));
    }

    #[test]
    fn mean_of_nothing_is_zero() {
        assert_eq!(mean(&[]), Duration::ZERO);
        assert_eq!(
            mean(&[Duration::from_millis(1), Duration::from_millis(3)]),
            Duration::from_millis(2)
        );
    }
}
