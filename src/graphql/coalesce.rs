//! Request coalescing under the DataLoaders, so a query's statement count depends only
//! on its shape.
//!
//! A DataLoader batches the keys asked for within one tick. Once a batch is on its way to
//! the database, a later request for one of its keys (from a sibling branch that got
//! there first, say `run.tenant.workspace` racing `run.workspace`) would start a second
//! batch. [`Coalesced`] remembers every batch started in the request, finished or not,
//! and answers such keys from it: each key is fetched at most once per request, however
//! the branches interleave.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};

use async_graphql::dataloader::Loader;
use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use tracing::Instrument;

use crate::error::AppError;

type Batch<K, V> = Shared<BoxFuture<'static, Result<Arc<HashMap<K, V>>, AppError>>>;

/// A loader that fetches each key at most once per request.
pub(crate) struct Coalesced<K, L: Loader<K>>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
{
    inner: Arc<L>,
    batches: Mutex<HashMap<K, Batch<K, L::Value>>>,
    /// Keys asked for by lists waiting for the request to settle (see
    /// `loaders::Loaders::load_now`): the first of them to go takes them all.
    waiting: Mutex<Vec<K>>,
}

impl<K, L> Coalesced<K, L>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    L: Loader<K, Error = AppError>,
{
    pub(crate) fn new(inner: L) -> Self {
        Self {
            inner: Arc::new(inner),
            batches: Mutex::new(HashMap::new()),
            waiting: Mutex::new(Vec::new()),
        }
    }

    /// Adds `keys` to those the next batch fetches.
    pub(crate) fn enqueue(&self, keys: &[K]) {
        lock(&self.waiting).extend_from_slice(keys);
    }

    /// Every key enqueued since the last call.
    pub(crate) fn take_enqueued(&self) -> Vec<K> {
        std::mem::take(&mut *lock(&self.waiting))
    }

    /// Records values already fetched some other way (a list query), so that loading
    /// them costs nothing.
    pub(crate) fn prime(&self, values: impl IntoIterator<Item = (K, L::Value)>) {
        let values: HashMap<K, L::Value> = values.into_iter().collect();
        let keys: Vec<K> = values.keys().cloned().collect();
        let ready: Batch<K, L::Value> = futures::future::ready(Ok(Arc::new(values)))
            .boxed()
            .shared();
        let mut batches = self.batches();
        for key in keys {
            batches.entry(key).or_insert_with(|| ready.clone());
        }
    }

    fn batches(&self) -> MutexGuard<'_, HashMap<K, Batch<K, L::Value>>> {
        lock(&self.batches)
    }
}

/// A panic while holding either lock leaves its contents consistent (inserts and takes
/// only).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<K, L> Loader<K> for Coalesced<K, L>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    L: Loader<K, Error = AppError>,
{
    type Value = L::Value;
    type Error = AppError;

    async fn load(&self, keys: &[K]) -> Result<HashMap<K, L::Value>, AppError> {
        let waiting: Vec<Batch<K, L::Value>> = {
            let mut batches = self.batches();
            let fresh: Vec<K> = keys
                .iter()
                .filter(|key| !batches.contains_key(key))
                .cloned()
                .collect();
            if !fresh.is_empty() {
                let inner = self.inner.clone();
                let asked = fresh.clone();
                let span = tracing::debug_span!(
                    target: crate::telemetry::TARGET,
                    "loader batch",
                    loader = short_type_name::<L>(),
                    keys = asked.len(),
                );
                let batch = async move { inner.load(&asked).await.map(Arc::new) }
                    .instrument(span)
                    .boxed()
                    .shared();
                for key in fresh {
                    batches.insert(key, batch.clone());
                }
            }
            let mut waiting: Vec<Batch<K, L::Value>> = Vec::new();
            for key in keys {
                if let Some(batch) = batches.get(key)
                    && !waiting.iter().any(|known| known.ptr_eq(batch))
                {
                    waiting.push(batch.clone());
                }
            }
            waiting
        };
        let mut answers = HashMap::new();
        for batch in waiting {
            let values = batch.await?;
            for key in keys {
                if let Some(value) = values.get(key) {
                    answers.insert(key.clone(), value.clone());
                }
            }
        }
        Ok(answers)
    }
}

/// A loader's type as a trace names it: its last path segment, without generics
/// (`TenantPages`, `ByParent`).
fn short_type_name<L>() -> &'static str {
    let name = std::any::type_name::<L>();
    let name = name.split('<').next().unwrap_or(name);
    name.rsplit("::").next().unwrap_or(name)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::time::Duration;

    use tokio::sync::Semaphore;

    use super::*;

    /// A loader for tests of the loader machinery: answers `key * 10` once let through,
    /// and records each batch of keys it was asked for, sorted.
    #[derive(Clone)]
    pub(crate) struct Recording {
        batches: Batches,
        through: Arc<Semaphore>,
    }

    impl Recording {
        /// One that answers at once.
        pub(crate) fn open() -> Self {
            Self {
                batches: Batches::default(),
                through: Arc::new(Semaphore::new(Semaphore::MAX_PERMITS)),
            }
        }

        /// The batches asked for so far.
        pub(crate) fn batches(&self) -> Vec<Vec<i64>> {
            self.batches.lock().map(|b| b.clone()).unwrap_or_default()
        }
    }

    impl Loader<i64> for Recording {
        type Value = i64;
        type Error = AppError;

        async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, i64>, AppError> {
            let mut asked = keys.to_vec();
            asked.sort_unstable();
            if let Ok(mut batches) = self.batches.lock() {
                batches.push(asked);
            }
            let _permit = self.through.acquire().await;
            Ok(keys.iter().map(|key| (*key, key * 10)).collect())
        }
    }

    type Batches = Arc<Mutex<Vec<Vec<i64>>>>;

    /// A coalescing loader over a [`Recording`] that answers only once let through,
    /// with what it records and its gate.
    fn held() -> (Arc<Coalesced<i64, Recording>>, Batches, Arc<Semaphore>) {
        let batches = Batches::default();
        let through = Arc::new(Semaphore::new(0));
        let loader = Coalesced::new(Recording {
            batches: batches.clone(),
            through: through.clone(),
        });
        (Arc::new(loader), batches, through)
    }

    async fn batches_become(batches: &Mutex<Vec<Vec<i64>>>, count: usize) -> Vec<Vec<i64>> {
        for _ in 0..500 {
            let seen = batches.lock().map(|b| b.clone()).unwrap_or_default();
            if seen.len() >= count {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        batches.lock().map(|b| b.clone()).unwrap_or_default()
    }

    fn sorted(answers: HashMap<i64, i64>) -> Vec<(i64, i64)> {
        let mut answers: Vec<(i64, i64)> = answers.into_iter().collect();
        answers.sort_unstable();
        answers
    }

    #[tokio::test]
    async fn a_key_in_flight_is_not_fetched_twice() {
        let (loader, batches, through) = held();
        let first = tokio::spawn({
            let loader = loader.clone();
            async move { loader.load(&[1, 2]).await }
        });
        assert_eq!(batches_become(&batches, 1).await, vec![vec![1, 2]]);
        // A sibling branch asks for a key of the batch on its way, and a new one: it
        // waits for that batch, and fetches only the new key.
        let second = tokio::spawn({
            let loader = loader.clone();
            async move { loader.load(&[2, 3]).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        through.add_permits(2);
        let first = first.await.ok().and_then(Result::ok).map(sorted);
        let second = second.await.ok().and_then(Result::ok).map(sorted);
        assert_eq!(first, Some(vec![(1, 10), (2, 20)]));
        assert_eq!(second, Some(vec![(2, 20), (3, 30)]));
        assert_eq!(batches_become(&batches, 2).await, vec![vec![1, 2], vec![3]]);
        // Once answered, a key is answered from memory.
        let again = loader.load(&[1, 3]).await.ok().map(sorted);
        assert_eq!(again, Some(vec![(1, 10), (3, 30)]));
        assert_eq!(batches_become(&batches, 3).await.len(), 2);
    }

    #[tokio::test]
    async fn a_primed_key_costs_nothing() {
        let (loader, batches, _through) = held();
        loader.prime([(5, 55)]);
        let answers = loader.load(&[5]).await.ok().map(sorted);
        assert_eq!(answers, Some(vec![(5, 55)]));
        assert!(batches.lock().map(|b| b.is_empty()).unwrap_or(false));
    }
}
