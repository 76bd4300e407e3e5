//! Documents admitted lately, so that a document sent again is not parsed and measured
//! again: a frontend's operations and a dashboard's fixed queries come back thousands of
//! times with the same text, and parsing and measuring the tenant board's document was a
//! fiftieth of the service's CPU on it (issue #13).
//!
//! What [`admit`] decides depends only on the text, the operation name, the limits and
//! the schema, and the last two are fixed for the life of the process; so an admitted
//! document is kept under its text and operation name and handed out again as it was.
//! Refusals are not kept: each one is counted in `/metrics`, and a client that sends a
//! refused document again is not the usual case. Documents longer than
//! [`LONGEST_KEPT`] are not kept either, so the cache stays small whatever clients send.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use lru::LruCache;

use super::{Admitted, Refusal, TypeIndex, admit};
use crate::config::Limits;

/// How many admitted documents are kept.
const KEPT: usize = 256;
/// The longest document text kept, in bytes: at most [`KEPT`] times this (4 MiB of text,
/// and its parsed form) is held.
const LONGEST_KEPT: usize = 16 * 1024;

/// The admitted documents kept, most recently used first.
pub(crate) struct Admissions {
    kept: Mutex<LruCache<String, Arc<Admitted>>>,
}

impl Default for Admissions {
    fn default() -> Self {
        Self {
            kept: Mutex::new(LruCache::new(
                NonZeroUsize::new(KEPT).unwrap_or(NonZeroUsize::MIN),
            )),
        }
    }
}

impl Admissions {
    /// [`admit`], or what it answered for the same text and operation name before.
    pub(crate) fn admit(
        &self,
        query: &str,
        operation_name: Option<&str>,
        limits: &Limits,
        types: &TypeIndex,
    ) -> Result<Arc<Admitted>, Refusal> {
        if query.len() > LONGEST_KEPT {
            return admit(query, operation_name, limits, types).map(Arc::new);
        }
        let key = key(query, operation_name);
        if let Some(admitted) = self.kept().get(&key) {
            return Ok(admitted.clone());
        }
        let admitted = Arc::new(admit(query, operation_name, limits, types)?);
        self.kept().put(key, admitted.clone());
        Ok(admitted)
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, LruCache<String, Arc<Admitted>>> {
        // A panic while holding the lock leaves the cache consistent.
        self.kept
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// One string for a text and an operation name, unambiguous: the name (if any) comes
/// first, after its length.
fn key(query: &str, operation_name: Option<&str>) -> String {
    match operation_name {
        Some(name) => format!("{}:{name}{query}", name.len()),
        None => format!("-{query}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn types() -> TypeIndex {
        TypeIndex::of_sdl(&crate::graphql::sdl()).expect("the SDL parses")
    }

    #[test]
    fn a_document_sent_again_is_the_one_admitted_before() {
        let admissions = Admissions::default();
        let (limits, types) = (Limits::default(), types());
        let query = "query A { __typename } query B { __typename }";
        let first = admissions.admit(query, Some("A"), &limits, &types);
        let again = admissions.admit(query, Some("A"), &limits, &types);
        let other = admissions.admit(query, Some("B"), &limits, &types);
        let (Ok(first), Ok(again), Ok(other)) = (first, again, other) else {
            panic!("all three are admitted");
        };
        assert!(Arc::ptr_eq(&first, &again));
        assert!(!Arc::ptr_eq(&first, &other));
        assert_eq!(other.operation_name.as_deref(), Some("B"));
    }

    #[test]
    fn a_refusal_is_decided_every_time() {
        let admissions = Admissions::default();
        let (limits, types) = (Limits::default(), types());
        let query = "query A { __typename } query B { __typename }";
        for _ in 0..2 {
            assert!(admissions.admit(query, None, &limits, &types).is_err());
            assert!(admissions.admit(query, Some("C"), &limits, &types).is_err());
        }
        assert!(admissions.kept().is_empty());
    }

    #[test]
    fn names_and_texts_do_not_run_together() {
        assert_ne!(key("B{ x }", Some("A")), key("{ x }", Some("AB")));
        assert_ne!(key("{ x }", Some("")), key("{ x }", None));
    }
}
