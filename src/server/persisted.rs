//! Automatic persisted queries, Apollo's protocol (spoken by Apollo Client's
//! persisted-query link and urql's `persistedExchange`).
//!
//! A client sends `extensions.persistedQuery = {version: 1, sha256Hash}` and no `query`.
//! When the service knows the hash it runs the document; when it does not, it answers
//! the error `PersistedQueryNotFound` (code `PERSISTED_QUERY_NOT_FOUND`, status 200, as
//! Apollo Server does) and the client sends the hash again with the query, which the
//! service checks against the hash and remembers. Only documents that passed admission
//! are remembered, in a least-recently-used cache bounded in bytes
//! (`system_console.persisted_queries.cache_bytes`), per instance.
//!
//! The saved operations of `playground/` are known from the start, by the SHA-256 of
//! each one's document (see [`super::saved`]), so a dashboard can call them by hash
//! alone.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_graphql::Value;
use lru::LruCache;

use super::saved::saved_operations;
use sha2::{Digest, Sha256};

/// What one remembered document costs besides its text: the key, the map's entry.
const ENTRY_OVERHEAD: usize = 128;

/// A `persistedQuery` extension the service cannot read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum BadExtension {
    /// A version other than 1.
    NotSupported,
    /// Not `{version: 1, sha256Hash: "<64 hex digits>"}`.
    Malformed(&'static str),
}

/// The documents known by hash.
pub(crate) struct PersistedQueries {
    /// The saved operations, never evicted.
    saved: HashMap<String, Arc<str>>,
    remembered: Mutex<Remembered>,
}

struct Remembered {
    cache: LruCache<String, Arc<str>>,
    bytes: usize,
    budget: usize,
}

impl PersistedQueries {
    /// A store holding the saved operations, remembering at most `budget` bytes more.
    pub(crate) fn new(budget: usize) -> Self {
        let saved = saved_operations()
            .iter()
            .map(|saved| {
                (
                    sha256_hex(&saved.document),
                    Arc::<str>::from(saved.document.as_str()),
                )
            })
            .collect();
        Self {
            saved,
            remembered: Mutex::new(Remembered {
                cache: LruCache::unbounded(),
                bytes: 0,
                budget,
            }),
        }
    }

    /// The hash of a request's `persistedQuery` extension, if it has one.
    pub(crate) fn requested_hash(
        extensions: &HashMap<String, Value>,
    ) -> Result<Option<String>, BadExtension> {
        let Some(persisted) = extensions.get("persistedQuery") else {
            return Ok(None);
        };
        let Value::Object(persisted) = persisted else {
            return Err(BadExtension::Malformed(
                "`extensions.persistedQuery` must be an object",
            ));
        };
        match persisted.get("version") {
            Some(Value::Number(version)) if version.as_u64() == Some(1) => {}
            Some(Value::Number(_)) => return Err(BadExtension::NotSupported),
            _ => {
                return Err(BadExtension::Malformed(
                    "`extensions.persistedQuery.version` must be 1",
                ));
            }
        }
        match persisted.get("sha256Hash") {
            Some(Value::String(hash))
                if hash.len() == 64 && hash.bytes().all(|byte| byte.is_ascii_hexdigit()) =>
            {
                Ok(Some(hash.to_ascii_lowercase()))
            }
            _ => Err(BadExtension::Malformed(
                "`extensions.persistedQuery.sha256Hash` must be a SHA-256 in 64 hexadecimal digits",
            )),
        }
    }

    /// The document a hash-only request names, if it is known.
    pub(crate) fn find(&self, hash: &str) -> Option<Arc<str>> {
        match self.saved.get(hash) {
            Some(text) => Some(text.clone()),
            None => self.lock().cache.get(hash).cloned(),
        }
    }

    /// Whether `hash` is the SHA-256 of `query`.
    pub(crate) fn names(hash: &str, query: &str) -> bool {
        sha256_hex(query) == hash
    }

    /// Remembers an admitted document under its hash, forgetting the least recently
    /// used ones to stay within the budget.
    pub(crate) fn remember(&self, hash: String, query: &str) {
        if self.saved.contains_key(&hash) {
            return;
        }
        let cost = query.len() + ENTRY_OVERHEAD;
        let mut remembered = self.lock();
        if cost > remembered.budget || remembered.cache.contains(&hash) {
            return;
        }
        while remembered.bytes + cost > remembered.budget {
            match remembered.cache.pop_lru() {
                Some((_, text)) => remembered.bytes -= text.len() + ENTRY_OVERHEAD,
                None => break,
            }
        }
        remembered.cache.put(hash, Arc::from(query));
        remembered.bytes += cost;
    }

    /// The remembered documents. A panic elsewhere cannot leave them half-updated —
    /// every update is one insertion or removal — so a poisoned lock is still good.
    fn lock(&self) -> MutexGuard<'_, Remembered> {
        self.remembered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// How many documents are remembered beyond the saved operations.
    #[cfg(test)]
    fn remembered(&self) -> usize {
        self.lock().cache.len()
    }
}

/// The SHA-256 of `text` in lowercase hexadecimal, as Apollo's clients compute it.
pub(crate) fn sha256_hex(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in digest {
        use std::fmt::Write;
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_saved_operations_are_known_by_the_hash_of_their_document() {
        let store = PersistedQueries::new(1024);
        let saved = saved_operations();
        assert!(!saved.is_empty());
        for saved in saved {
            assert_eq!(
                store.find(&sha256_hex(&saved.document)).as_deref(),
                Some(saved.document.as_str()),
                "{} is preloaded",
                saved.file
            );
        }
    }

    #[test]
    fn a_remembered_document_is_found_and_the_budget_evicts_the_oldest() {
        let documents: Vec<String> = (0..4)
            .map(|index| format!("{{ settings {{ a{index} }} }}"))
            .collect();
        let store = PersistedQueries::new(3 * (ENTRY_OVERHEAD + documents[0].len()));
        for document in &documents {
            store.remember(sha256_hex(document), document);
        }
        assert_eq!(store.remembered(), 3);
        assert_eq!(store.find(&sha256_hex(&documents[0])), None);
        assert_eq!(
            &*store.find(&sha256_hex(&documents[3])).unwrap(),
            documents[3]
        );
    }

    #[test]
    fn a_document_larger_than_the_budget_is_not_remembered() {
        let store = PersistedQueries::new(10);
        let document = "{ settings { maxPageSize } }";
        store.remember(sha256_hex(document), document);
        assert_eq!(store.find(&sha256_hex(document)), None);
    }

    #[test]
    fn the_hash_is_checked_against_the_query() {
        let query = "{ __typename }";
        assert!(PersistedQueries::names(&sha256_hex(query), query));
        assert!(!PersistedQueries::names(
            &sha256_hex("{ viewer { name } }"),
            query
        ));
    }

    #[test]
    fn the_extension_is_read_strictly() {
        let hash = sha256_hex("{ __typename }");
        let extension = |value: serde_json::Value| {
            let value = Value::from_json(value).unwrap();
            HashMap::from([("persistedQuery".to_owned(), value)])
        };
        assert_eq!(
            PersistedQueries::requested_hash(&extension(
                serde_json::json!({"version": 1, "sha256Hash": hash.to_uppercase()})
            )),
            Ok(Some(hash.clone()))
        );
        assert_eq!(
            PersistedQueries::requested_hash(&extension(
                serde_json::json!({"version": 2, "sha256Hash": hash})
            )),
            Err(BadExtension::NotSupported)
        );
        assert!(matches!(
            PersistedQueries::requested_hash(&extension(
                serde_json::json!({"version": 1, "sha256Hash": "abc"})
            )),
            Err(BadExtension::Malformed(_))
        ));
        assert_eq!(
            PersistedQueries::requested_hash(&Default::default()),
            Ok(None)
        );
    }
}
