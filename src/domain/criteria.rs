//! What every derived value of one request is judged by: its single `now` and the
//! thresholds in force. Taken once per request and passed down, so a run's stuck flag,
//! its tenant's badge and the Control Tower's counts all agree (SPEC §3).

use chrono::{DateTime, Utc};

use super::health::HealthRules;
use super::stuck::StuckRules;
use super::window::{TimeRange, TimeWindow};

/// The request's `now` and the rules in force.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Criteria {
    pub(crate) now: DateTime<Utc>,
    pub(crate) stuck: StuckRules,
    pub(crate) health: HealthRules,
}

impl Criteria {
    /// The moments `window` covers, ending at `now`.
    pub(crate) fn range(&self, window: TimeWindow) -> TimeRange {
        window.range(self.now)
    }
}
