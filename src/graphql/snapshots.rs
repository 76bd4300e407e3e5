//! The shared, short-lived cache of Control Tower snapshots.
//!
//! Dashboards poll. Many clients asking for the same window within a few seconds are
//! served one computation: the first starts it, the others wait for it (single flight),
//! and it is reused until it is `system_console.cache.control_tower_seconds` old.
//! `generatedAt` says when it was computed. A failed computation is not kept.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};

use crate::db::control_tower::Snapshot;
use crate::domain::window::TimeWindow;
use crate::error::AppError;
use crate::metrics::Metrics;

type Computation = Shared<BoxFuture<'static, Result<Arc<Snapshot>, AppError>>>;

struct Entry {
    started: Instant,
    computation: Computation,
}

/// Snapshots by window, shared by every request of the process.
pub(crate) struct SnapshotCache {
    ttl: Duration,
    entries: Mutex<HashMap<TimeWindow, Entry>>,
    /// Where hits and computations are counted.
    metrics: Arc<Metrics>,
}

impl SnapshotCache {
    /// A cache keeping snapshots for `ttl` (zero: no reuse beyond requests in flight).
    pub(crate) fn new(ttl: Duration, metrics: Arc<Metrics>) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
            metrics,
        }
    }

    /// The snapshot of `window`: a fresh or in-flight one, or the result of `compute`.
    pub(crate) async fn get(
        &self,
        window: TimeWindow,
        compute: impl FnOnce() -> BoxFuture<'static, Result<Arc<Snapshot>, AppError>>,
    ) -> Result<Arc<Snapshot>, AppError> {
        let computation = {
            let mut entries = self
                .entries
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            match entries.get(&window) {
                Some(entry)
                    if entry.computation.peek().is_none() || entry.started.elapsed() < self.ttl =>
                {
                    self.metrics.snapshot(true);
                    entry.computation.clone()
                }
                _ => {
                    self.metrics.snapshot(false);
                    let computation = compute().shared();
                    let entry = Entry {
                        started: Instant::now(),
                        computation: computation.clone(),
                    };
                    entries.insert(window, entry);
                    computation
                }
            }
        };
        let result = computation.clone().await;
        if result.is_err() {
            let mut entries = self
                .entries
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if entries
                .get(&window)
                .is_some_and(|entry| entry.computation.ptr_eq(&computation))
            {
                entries.remove(&window);
            }
        }
        result
    }
}
