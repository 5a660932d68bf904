//! The GitHub Pages site budget: published sites may be at most 1 GB. Before writing, the
//! branch's size (from the snapshot's tree listing) plus the new files is compared with it:
//! a warning from 75 %, a refusal above it (unless `--allow-over-budget`), pointing at
//! `--store release`, which keeps large files out of the site.

/// GitHub Pages' limit for a published site.
pub const PAGES_LIMIT: u64 = 1_000_000_000;
/// Warn from this share of the limit.
pub const WARN_SHARE: f64 = 0.75;

/// What the budget says of a site of `current` bytes growing by `adding`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Budget {
    Fine,
    /// Above 75 %: the share of the limit it reaches.
    Warn(f64),
    /// Above the limit.
    Over(f64),
}

pub fn check(current: u64, adding: u64) -> Budget {
    let total = current.saturating_add(adding);
    let share = total as f64 / PAGES_LIMIT as f64;
    if total > PAGES_LIMIT {
        Budget::Over(share)
    } else if share >= WARN_SHARE {
        Budget::Warn(share)
    } else {
        Budget::Fine
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warns_from_three_quarters_and_refuses_above_the_limit() {
        assert_eq!(check(0, 0), Budget::Fine);
        assert_eq!(check(700_000_000, 49_999_999), Budget::Fine);
        assert!(
            matches!(check(700_000_000, 50_000_000), Budget::Warn(s) if (s - 0.75).abs() < 1e-9)
        );
        assert!(matches!(check(PAGES_LIMIT, 0), Budget::Warn(_)));
        assert!(matches!(check(PAGES_LIMIT, 1), Budget::Over(_)));
        assert!(matches!(check(u64::MAX, u64::MAX), Budget::Over(_)));
    }
}
