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

use crate::error::AppError;

type Batch<K, V> = Shared<BoxFuture<'static, Result<Arc<HashMap<K, V>>, AppError>>>;

/// A loader that fetches each key at most once per request.
pub struct Coalesced<K, L: Loader<K>>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
{
    inner: Arc<L>,
    batches: Mutex<HashMap<K, Batch<K, L::Value>>>,
}

impl<K, L> Coalesced<K, L>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    L: Loader<K, Error = AppError>,
{
    pub fn new(inner: L) -> Self {
        Self {
            inner: Arc::new(inner),
            batches: Mutex::new(HashMap::new()),
        }
    }

    /// Records values already fetched some other way (a list query), so that loading
    /// them costs nothing.
    pub fn prime(&self, values: impl IntoIterator<Item = (K, L::Value)>) {
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
        // A panic while holding the lock leaves the map consistent (inserts only).
        self.batches
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
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
                let batch = async move { inner.load(&asked).await.map(Arc::new) }
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
