//! Each caller's allowance of query cost (SPEC §9e): a leaky bucket per operator, per
//! dashboard token and per address of callers without a session, of
//! `system_console.limits.cost_budget.maximum`, filling again at `.restore_per_second`.
//!
//! A request takes its requested cost before anything it asks runs, and is refused
//! `RATE_LIMITED` when the bucket holds less; once answered, what it took beyond its
//! actual cost goes back. On PostgreSQL the buckets are rows of `cost_budget` on the
//! primary, shared by every instance on the database (one statement a request, not
//! counted among the request's own); on SQLite they live in this instance's memory.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::Instant;

use lru::LruCache;
use sea_orm::{ConnectionTrait, DbBackend};

use crate::config::CostBudget;
use crate::db::{self, Db};

/// How many buckets an instance keeps in memory (SQLite) before it forgets full ones:
/// a full bucket is what an unknown caller gets anyway.
const LOCAL_BUCKETS: usize = 100_000;
/// How many bearer tokens the budget remembers the caller of, so that a caller whose
/// bucket is empty is refused before their token is looked up.
const KNOWN_TOKENS: usize = 10_000;

/// What a response's `extensions.cost.throttleStatus` says.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Throttle {
    pub(crate) maximum: f64,
    /// Below 0 when the bucket owes (see [`Payment::Owed`]).
    pub(crate) available: f64,
    pub(crate) restore_per_second: f64,
}

impl Throttle {
    /// What a caller is told the bucket holds: whole units, 0 when it owes.
    pub(crate) fn shown(&self) -> f64 {
        self.available.max(0.0).floor()
    }

    /// Whole seconds until the bucket holds `cost` (at least 1).
    pub(crate) fn retry_after(&self, cost: u64) -> u64 {
        let missing = (cost as f64 - self.available).max(0.0);
        ((missing / self.restore_per_second).ceil() as u64).max(1)
    }
}

/// Whether a cost may be refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Payment {
    /// Before the request runs: taken only if the bucket holds it.
    Asked,
    /// After it ran: taken whatever the bucket holds, which may go below empty.
    Owed,
}

/// The outcome of taking a request's cost.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Taken {
    /// The cost was taken; the bucket is left as this.
    Granted(Throttle),
    /// The bucket holds less than the cost.
    Refused(Throttle),
    /// The shared budget could not be read (the primary is unreachable): the request
    /// runs uncharged, and its answer carries no throttle status.
    Unknown,
}

struct Bucket {
    available: f64,
    at: Instant,
}

/// The buckets of every caller.
pub(crate) struct Budget {
    maximum: f64,
    restore: f64,
    /// On PostgreSQL, the database that keeps them (on the primary).
    shared: Option<Db>,
    local: Mutex<HashMap<String, Bucket>>,
    /// Bearer token hashes and whose bucket they draw on, once authenticated.
    known: Mutex<LruCache<String, String>>,
}

impl std::fmt::Debug for Budget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Budget")
            .field("maximum", &self.maximum)
            .field("restore", &self.restore)
            .field("shared", &self.shared.is_some())
            .finish_non_exhaustive()
    }
}

impl Budget {
    pub(crate) fn new(config: &CostBudget, db: &Db) -> Self {
        let shared = (db.get_database_backend() == DbBackend::Postgres).then(|| db.detached());
        Self {
            maximum: f64::from(config.maximum),
            restore: f64::from(config.restore_per_second),
            shared,
            local: Mutex::new(HashMap::new()),
            known: Mutex::new(LruCache::new(
                NonZeroUsize::new(KNOWN_TOKENS).unwrap_or(NonZeroUsize::MIN),
            )),
        }
    }

    fn throttle(&self, available: f64) -> Throttle {
        Throttle {
            maximum: self.maximum,
            available: available.min(self.maximum),
            restore_per_second: self.restore,
        }
    }

    /// Whose bucket a bearer token (by its hash) drew on last.
    pub(crate) fn subject_of(&self, token_hash: &str) -> Option<String> {
        self.known
            .lock()
            .ok()
            .and_then(|mut known| known.get(token_hash).cloned())
    }

    /// Remembers whose bucket a bearer token draws on.
    pub(crate) fn learn(&self, token_hash: String, subject: &str) {
        if let Ok(mut known) = self.known.lock()
            && known.peek(&token_hash).is_none_or(|known| known != subject)
        {
            known.put(token_hash, subject.to_owned());
        }
    }

    /// Takes `cost` from the bucket of `subject`: if it holds that much, or in any case
    /// when the cost is [`Payment::Owed`].
    pub(crate) async fn take(&self, subject: &str, cost: u64, payment: Payment) -> Taken {
        let cost = cost as f64;
        let owed = payment == Payment::Owed;
        if let Some(db) = &self.shared {
            let level = db::budget::take(db, subject, cost, owed, self.maximum, self.restore);
            return match level.await {
                Ok(level) if level.taken => Taken::Granted(self.throttle(level.available)),
                Ok(level) => Taken::Refused(self.throttle(level.available)),
                Err(error) => {
                    tracing::warn!(%error, "could not read the query cost budget: the request runs uncharged");
                    Taken::Unknown
                }
            };
        }
        let Ok(mut buckets) = self.local.lock() else {
            return Taken::Unknown;
        };
        let now = Instant::now();
        if buckets.len() >= LOCAL_BUCKETS {
            let (maximum, restore) = (self.maximum, self.restore);
            buckets.retain(|_, bucket| {
                bucket.available + restore * now.duration_since(bucket.at).as_secs_f64() < maximum
            });
        }
        let bucket = buckets.entry(subject.to_owned()).or_insert(Bucket {
            available: self.maximum,
            at: now,
        });
        let available = (bucket.available
            + self.restore * now.duration_since(bucket.at).as_secs_f64())
        .min(self.maximum);
        bucket.at = now;
        if available >= cost || owed {
            bucket.available = available - cost;
            Taken::Granted(self.throttle(bucket.available))
        } else {
            bucket.available = available;
            Taken::Refused(self.throttle(available))
        }
    }

    /// Gives `amount` back to the bucket of `subject` (what a request took beyond its
    /// actual cost), and says what the bucket then holds. On PostgreSQL the statement
    /// runs after the answer, off the request's path.
    pub(crate) fn give_back(&self, subject: &str, amount: u64, left: Throttle) -> Throttle {
        let amount = amount as f64;
        let after = self.throttle((left.available + amount).min(self.maximum));
        if amount <= 0.0 {
            return after;
        }
        if let Some(db) = &self.shared {
            let (db, subject, maximum) = (db.clone(), subject.to_owned(), self.maximum);
            tokio::spawn(async move {
                if let Err(error) = db::budget::give_back(&db, &subject, amount, maximum).await {
                    tracing::warn!(%error, "could not give back unused query cost");
                }
            });
        } else if let Ok(mut buckets) = self.local.lock()
            && let Some(bucket) = buckets.get_mut(subject)
        {
            bucket.available = (bucket.available + amount).min(self.maximum);
        }
        after
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle(available: f64) -> Throttle {
        Throttle {
            maximum: 1000.0,
            available,
            restore_per_second: 50.0,
        }
    }

    #[test]
    fn retry_after_is_the_whole_seconds_until_the_cost_is_restored() {
        assert_eq!(throttle(100.0).retry_after(150), 1);
        assert_eq!(throttle(100.0).retry_after(151), 2);
        assert_eq!(throttle(0.0).retry_after(1000), 20);
        assert_eq!(throttle(500.0).retry_after(10), 1);
        // A bucket that owes waits its debt out too, and reads empty.
        assert_eq!(throttle(-100.0).retry_after(100), 4);
        assert_eq!(throttle(-100.0).shown(), 0.0);
    }
}
