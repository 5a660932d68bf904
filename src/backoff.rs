//! The one backoff rule of the tool: exponential steps with jitter, so clients that failed
//! together (racing publishers, retried requests) do not come back together.

use std::time::Duration;

/// The wait before retry number `retry` (0 for the first): `base · 2^retry`, capped at `cap`,
/// then a random point in the upper half of that step.
pub fn jittered(base: Duration, cap: Duration, retry: u32) -> Duration {
    let step = base
        .saturating_mul(1u32.checked_shl(retry.min(16)).unwrap_or(u32::MAX))
        .min(cap);
    // `mul_f64` panics when rounding lands past `Duration::MAX`; this cannot.
    Duration::try_from_secs_f64(step.as_secs_f64() * (0.5 + fastrand::f64() / 2.0)).unwrap_or(step)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_with_jitter_and_is_capped() {
        let (base, cap) = (Duration::from_millis(100), Duration::from_millis(1000));
        for _ in 0..50 {
            let first = jittered(base, cap, 0);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let third = jittered(base, cap, 2);
            assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400));
            let late = jittered(base, cap, u32::MAX);
            assert!(late >= Duration::from_millis(500) && late <= Duration::from_millis(1000));
        }
        // Absurd inputs neither panic nor overflow.
        assert!(jittered(Duration::MAX, Duration::MAX, 40) <= Duration::MAX);
    }
}
