//! Read replicas (SPEC §9d): which one a request reads from, and whether each is fit to.
//!
//! A watcher ([`watch`]) samples the primary's WAL position and each replica's replayed
//! position twice a second. A replica's lag is how long ago the primary was at the
//! position the replica has replayed: measured on the service's own clock, so it needs
//! no clock agreement between servers and reads 0 on an idle primary. A replica that
//! does not answer, or lags more than `database_replica_max_lag_seconds`, is skipped.
//!
//! Read-your-writes: after an operator's mutation, the primary's position then is noted
//! for that operator ([`Replicas::wrote`]); their reads go to a replica only once it
//! has replayed past it, else to the primary. The note is in this instance's memory:
//! behind a load balancer, an operator's requests should stick to one instance (see the
//! README).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};

use super::Db;

/// How often the watcher samples the positions.
const EVERY: Duration = Duration::from_millis(500);
/// The most samples of the primary's position kept: more than the longest lag the
/// configuration can name is never needed, since a replica further behind is skipped.
const MAX_SAMPLES: usize = 4096;

/// The replicas of one primary, and what is known of them.
#[derive(Debug)]
pub(crate) struct Replicas {
    members: Vec<Replica>,
    max_lag: Duration,
    /// The primary's WAL position at each sample, oldest first.
    primary: Mutex<VecDeque<(Instant, i64)>>,
    /// Per operator, the primary's position after their last mutation, until every
    /// replica has replayed it.
    written: Mutex<HashMap<i64, i64>>,
    /// Spreads reads over the replicas fit to serve them.
    turn: AtomicUsize,
}

/// One replica.
#[derive(Debug)]
pub(crate) struct Replica {
    /// Its label in `/metrics` and `/readyz`: host, port and database, no credentials.
    pub(crate) name: String,
    pub(crate) db: Db,
    state: Mutex<State>,
}

/// What the watcher last saw of a replica.
#[derive(Clone, Debug)]
pub(crate) enum State {
    /// Not sampled yet: skipped until it is.
    Unknown,
    /// Answering, `lag` behind, having replayed the primary's WAL up to `replayed`.
    Answering { lag: Duration, replayed: i64 },
    /// Not answering, for this reason.
    Down(String),
}

/// A replica as `/metrics` and `/readyz` report it.
#[derive(Clone, Debug)]
pub(crate) struct Report {
    pub(crate) name: String,
    /// Its lag, when it answers.
    pub(crate) lag: Option<Duration>,
    /// Why reads skip it, when they do.
    pub(crate) skipped: Option<String>,
}

impl Replicas {
    /// The replicas `dbs` (each with its label), skipped beyond `max_lag`.
    pub(crate) fn new(dbs: Vec<(String, Db)>, max_lag: Duration) -> Self {
        Self {
            members: dbs
                .into_iter()
                .map(|(name, db)| Replica {
                    name,
                    db,
                    state: Mutex::new(State::Unknown),
                })
                .collect(),
            max_lag,
            primary: Mutex::default(),
            written: Mutex::default(),
            turn: AtomicUsize::new(0),
        }
    }

    pub(crate) fn member(&self, index: usize) -> &Replica {
        &self.members[index]
    }

    /// The replica a read by `reader` goes to: one fit to serve (answering, within the
    /// lag limit) that has replayed the reader's last mutation; `None` for the primary.
    pub(crate) fn choose(&self, reader: Option<i64>) -> Option<usize> {
        let required = reader.and_then(|reader| lock(&self.written).get(&reader).copied());
        let fit = |index: &usize| match self.members[*index].state() {
            State::Answering { lag, replayed } => {
                lag <= self.max_lag && required.is_none_or(|required| replayed >= required)
            }
            _ => false,
        };
        let count = (0..self.members.len()).filter(fit).count();
        if count == 0 {
            return None;
        }
        let turn = self.turn.fetch_add(1, Ordering::Relaxed) % count;
        (0..self.members.len()).filter(fit).nth(turn)
    }

    /// `reader` has just written, up to the primary's `position`: their reads stay on
    /// the primary until a replica has replayed it.
    pub(crate) fn wrote(&self, reader: i64, position: i64) {
        let mut written = lock(&self.written);
        let noted = written.entry(reader).or_insert(position);
        *noted = (*noted).max(position);
    }

    /// A read on `index` failed to reach it: it is skipped until the watcher sees it
    /// answer again.
    pub(crate) fn failed(&self, index: usize, error: &DbErr) {
        let replica = &self.members[index];
        tracing::warn!(replica = %replica.name, %error, "a read replica failed; reading from the primary");
        *lock(&replica.state) = State::Down(error.to_string());
    }

    /// Every replica, as `/metrics` and `/readyz` report it.
    pub(crate) fn report(&self) -> Vec<Report> {
        self.members
            .iter()
            .map(|replica| {
                let state = replica.state();
                let (lag, skipped) = match state {
                    State::Unknown => (None, Some("not sampled yet".to_owned())),
                    State::Down(reason) => (None, Some(format!("not answering: {reason}"))),
                    State::Answering { lag, .. } if lag > self.max_lag => (
                        Some(lag),
                        Some(format!(
                            "{:.1} s behind the primary, more than {:.1} s",
                            lag.as_secs_f64(),
                            self.max_lag.as_secs_f64()
                        )),
                    ),
                    State::Answering { lag, .. } => (Some(lag), None),
                };
                Report {
                    name: replica.name.clone(),
                    lag,
                    skipped,
                }
            })
            .collect()
    }

    /// The primary is at `position` now.
    fn sampled_primary(&self, now: Instant, position: i64) {
        let mut samples = lock(&self.primary);
        samples.push_back((now, position));
        // Only samples within the lag limit (and the one before) tell a fit replica's
        // lag; an older one only says "further behind than the limit".
        let horizon = self.max_lag + EVERY * 2;
        while samples.len() > MAX_SAMPLES || (samples.len() > 2 && samples[1].0 + horizon < now) {
            samples.pop_front();
        }
    }

    /// How far behind a replica that has replayed up to `replayed` is, at `now`: since
    /// the latest sample of the primary it has replayed; at least since the oldest
    /// sample when it has replayed none of them.
    fn lag(&self, now: Instant, replayed: i64) -> Duration {
        let samples = lock(&self.primary);
        match samples.back() {
            None => Duration::ZERO,
            Some(&(_, latest)) if replayed >= latest => Duration::ZERO,
            _ => {
                let since = samples
                    .iter()
                    .rev()
                    .find(|(_, position)| *position <= replayed)
                    .or(samples.front())
                    .map_or(now, |(at, _)| *at);
                now.saturating_duration_since(since)
            }
        }
    }

    /// Forgets the notes of mutations every replica has replayed.
    fn forget_replayed(&self) {
        let replayed = self
            .members
            .iter()
            .map(|replica| match replica.state() {
                State::Answering { replayed, .. } => Some(replayed),
                _ => None,
            })
            .collect::<Option<Vec<i64>>>()
            .and_then(|replayed| replayed.into_iter().min());
        if let Some(replayed) = replayed {
            lock(&self.written).retain(|_, position| *position > replayed);
        }
    }
}

impl Replica {
    pub(crate) fn state(&self) -> State {
        lock(&self.state).clone()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The primary's WAL position now, as a number (bytes since `0/0`).
const PRIMARY_POSITION: &str = "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint AS position";
/// How far a replica has replayed the primary's WAL. A server that is not in recovery
/// (a primary named as a replica) is as far as its own WAL goes.
const REPLAYED_POSITION: &str = "SELECT (COALESCE(pg_last_wal_replay_lsn(), pg_current_wal_lsn()) - '0/0'::pg_lsn)::bigint AS position";

/// The primary's WAL position now, on `db` (the primary).
pub(crate) async fn primary_position(db: &Db) -> Result<i64, DbErr> {
    position(db, PRIMARY_POSITION).await
}

async fn position(db: &Db, sql: &str) -> Result<i64, DbErr> {
    let row = db
        .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("a WAL position".to_owned()))?;
    row.try_get("", "position")
}

/// Samples the primary and every replica twice a second, for as long as the service
/// runs. Each sample is bounded by `timeout`: a replica that does not answer in time is
/// down until it does.
pub(crate) async fn watch(replicas: Arc<Replicas>, primary: Db, timeout: Duration) {
    let mut ticks = tokio::time::interval(EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match tokio::time::timeout(timeout, primary_position(&primary)).await {
            Ok(Ok(position)) => replicas.sampled_primary(Instant::now(), position),
            // Without the primary nothing is served anyway; the replicas keep their state.
            Ok(Err(error)) => {
                tracing::debug!(%error, "could not sample the primary's WAL position");
                continue;
            }
            Err(_) => continue,
        }
        let samples = replicas.members.iter().map(|replica| async {
            let sampled = tokio::time::timeout(timeout, position(&replica.db, REPLAYED_POSITION));
            let state = match sampled.await {
                Ok(Ok(replayed)) => State::Answering {
                    lag: replicas.lag(Instant::now(), replayed),
                    replayed,
                },
                Ok(Err(error)) => State::Down(error.to_string()),
                Err(_) => State::Down(format!("no answer within {} ms", timeout.as_millis())),
            };
            let was_down = !matches!(replica.state(), State::Answering { .. });
            if was_down && matches!(state, State::Answering { .. }) {
                tracing::info!(replica = %replica.name, "a read replica answers: reads may go to it");
            }
            *lock(&replica.state) = state;
        });
        futures::future::join_all(samples).await;
        replicas.forget_replayed();
    }
}

/// A replica's label: its host, port and database, without user or password.
pub(crate) fn label(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, rest)| rest);
    rest.split(['?', '#']).next().unwrap_or(rest).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replicas(max_lag: u64) -> Replicas {
        Replicas::new(Vec::new(), Duration::from_secs(max_lag))
    }

    #[test]
    fn lag_is_how_long_ago_the_primary_was_where_the_replica_is() {
        let replicas = replicas(5);
        let start = Instant::now();
        for (second, position) in [(0, 100), (1, 200), (2, 300), (3, 300)] {
            replicas.sampled_primary(start + Duration::from_secs(second), position);
        }
        let now = start + Duration::from_secs(3);
        assert_eq!(replicas.lag(now, 300), Duration::ZERO);
        assert_eq!(replicas.lag(now, 250), Duration::from_secs(2));
        assert_eq!(replicas.lag(now, 200), Duration::from_secs(2));
        assert_eq!(replicas.lag(now, 150), Duration::from_secs(3));
        // Behind every sample: at least as old as the oldest.
        assert_eq!(replicas.lag(now, 50), Duration::from_secs(3));
    }

    #[test]
    fn old_samples_are_dropped_but_the_lag_beyond_the_limit_still_shows() {
        let replicas = replicas(1);
        let start = Instant::now();
        for tick in 0..100 {
            replicas.sampled_primary(start + EVERY * tick, i64::from(tick));
        }
        assert!(lock(&replicas.primary).len() < 10);
        let now = start + EVERY * 99;
        assert!(replicas.lag(now, 0) > Duration::from_secs(1));
    }

    #[test]
    fn a_label_has_no_credentials() {
        assert_eq!(
            label("postgres://reader:secret@db-2.internal:5433/ops?sslmode=require"),
            "db-2.internal:5433/ops"
        );
        assert_eq!(label("postgres://127.0.0.1/ops"), "127.0.0.1/ops");
    }
}
