//! Trusted documents (SPEC §9c): a dashboard token made with `--document` runs only
//! those documents, and `system_console.trusted_documents` extends the rule.
//!
//! | policy   | token with documents | token without | operator's session |
//! |----------|----------------------|---------------|--------------------|
//! | `off`    | its documents        | any document  | any document       |
//! | `tokens` | its documents        | saved ones    | any document       |
//! | `all`    | its documents        | saved ones    | saved ones         |
//!
//! "Saved ones" are the playground's saved operations (`playground/operations/`), the
//! documents a team reviewed and shipped with the service. A request names a trusted
//! document by its text (matched by SHA-256), by the SHA-256 alone (the
//! `persistedQuery` extension) or, with no text, by an operation name of one; anything
//! else is refused with `FORBIDDEN` before it is parsed.

use std::borrow::Cow;
use std::sync::LazyLock;

use super::persisted::{PersistedQueries, sha256_hex};
use super::saved::saved_operations;
use crate::auth::Principal;
use crate::auth::tokens::TrustedDocument;
use crate::config::TrustedDocuments;
use crate::error::AppError;
use async_graphql::Request;

/// The documents a principal may run.
pub(super) enum Trust {
    Any,
    Only(Cow<'static, [TrustedDocument]>),
}

/// The saved operations, as trusted documents, made once.
fn saved() -> &'static [TrustedDocument] {
    static SAVED: LazyLock<Vec<TrustedDocument>> = LazyLock::new(|| {
        saved_operations()
            .iter()
            .map(|saved| TrustedDocument {
                names: vec![saved.name.clone()],
                sha256: sha256_hex(&saved.document),
                text: saved.document.clone(),
            })
            .collect()
    });
    &SAVED
}

/// Whether `policy` may restrict the holder of `token` (so that it must be looked up
/// before the document is read).
pub(super) fn may_restrict(policy: TrustedDocuments, token: &str) -> bool {
    policy == TrustedDocuments::All || token.starts_with(crate::auth::tokens::TOKEN_PREFIX)
}

impl Trust {
    /// What `principal` may run under `policy`.
    pub(super) fn of(policy: TrustedDocuments, principal: &Principal) -> Self {
        match principal {
            Principal::Token(token) => {
                let documents = token.documents();
                if !documents.is_empty() {
                    Self::Only(Cow::Owned(documents))
                } else if policy == TrustedDocuments::Off {
                    Self::Any
                } else {
                    Self::Only(Cow::Borrowed(saved()))
                }
            }
            Principal::Operator(_) if policy == TrustedDocuments::All => {
                Self::Only(Cow::Borrowed(saved()))
            }
            Principal::Operator(_) | Principal::Shared(_) => Self::Any,
        }
    }

    /// Lets `request` through when it names a trusted document, giving it the
    /// document's text when it named it by hash or operation name.
    pub(super) fn screen(&self, request: &mut Request) -> Result<(), AppError> {
        let Self::Only(documents) = self else {
            return Ok(());
        };
        let found = if !request.query.trim().is_empty() {
            let sha256 = sha256_hex(&request.query);
            documents.iter().find(|document| document.sha256 == sha256)
        } else if let Ok(Some(hash)) = PersistedQueries::requested_hash(&request.extensions) {
            documents
                .iter()
                .find(|document| document.sha256.eq_ignore_ascii_case(&hash))
        } else {
            request.operation_name.as_deref().and_then(|name| {
                documents
                    .iter()
                    .find(|document| document.names.iter().any(|known| known == name))
            })
        };
        match found {
            Some(document) => {
                if request.query.trim().is_empty() {
                    request.query = document.text.clone();
                }
                Ok(())
            }
            None => Err(AppError::Denied(
                "these credentials run only trusted documents, and this is not one: send \
                 one by its text, its SHA-256 (extensions.persistedQuery) or its \
                 operation name"
                    .to_owned(),
            )),
        }
    }
}
