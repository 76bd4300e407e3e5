//! Time windows (SPEC §3): the interval `[now − length, now]`.

use chrono::{DateTime, Duration, Utc};

/// A preset window ending at the request's `now`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) enum TimeWindow {
    Last1h,
    #[default]
    Last24h,
    Last7d,
}

impl TimeWindow {
    /// The window's length.
    pub(crate) fn length(self) -> Duration {
        match self {
            Self::Last1h => Duration::hours(1),
            Self::Last24h => Duration::hours(24),
            Self::Last7d => Duration::days(7),
        }
    }

    /// The window in words, for messages: "the last 24 hours".
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Self::Last1h => "the last hour",
            Self::Last24h => "the last 24 hours",
            Self::Last7d => "the last 7 days",
        }
    }

    /// The window as a closed interval ending at `now`.
    pub(crate) fn range(self, now: DateTime<Utc>) -> TimeRange {
        TimeRange {
            start: now - self.length(),
            end: now,
        }
    }
}

/// A closed interval of time, both ends included.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct TimeRange {
    pub(crate) start: DateTime<Utc>,
    pub(crate) end: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-11-27T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn the_default_window_is_the_last_24_hours() {
        assert_eq!(TimeWindow::default(), TimeWindow::Last24h);
    }

    #[test]
    fn a_window_ends_at_now_and_includes_both_ends() {
        let range = TimeWindow::Last1h.range(now());
        assert_eq!(range.end, now());
        assert_eq!(
            range.start,
            "2026-11-27T11:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
    }

    #[test]
    fn seven_days_is_one_hundred_and_sixty_eight_hours() {
        assert_eq!(TimeWindow::Last7d.length(), Duration::hours(168));
    }
}
