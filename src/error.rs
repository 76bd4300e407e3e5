//! The error contract (SPEC §6): one enum, a closed set of `extensions.code` values, and
//! the conversion to GraphQL errors.
//!
//! User faults carry a message written for the caller. Our faults — a database that is
//! down, a bug — are logged with their full chain here and answered with a fixed message,
//! so no SQL, stack trace or secret reaches a response.

use std::sync::Arc;

use async_graphql::ErrorExtensions;
use sea_orm::{DbErr, RuntimeErr, sqlx};

/// The `extensions.code` of every error the API returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ErrorCode {
    Unauthenticated,
    Forbidden,
    BadUserInput,
    NotFound,
    RateLimited,
    QueryTooComplex,
    ServiceUnavailable,
    Internal,
}

impl ErrorCode {
    /// Every code.
    pub(crate) const ALL: [Self; 8] = [
        Self::Unauthenticated,
        Self::Forbidden,
        Self::BadUserInput,
        Self::NotFound,
        Self::RateLimited,
        Self::QueryTooComplex,
        Self::ServiceUnavailable,
        Self::Internal,
    ];

    /// The code written `code` in `extensions.code`, if it is one of ours.
    pub(crate) fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|known| known.as_str() == code)
    }

    /// The code as it appears in `extensions.code`.
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::Forbidden => "FORBIDDEN",
            Self::BadUserInput => "BAD_USER_INPUT",
            Self::NotFound => "NOT_FOUND",
            Self::RateLimited => "RATE_LIMITED",
            Self::QueryTooComplex => "QUERY_TOO_COMPLEX",
            Self::ServiceUnavailable => "SERVICE_UNAVAILABLE",
            Self::Internal => "INTERNAL",
        }
    }
}

/// Everything that can go wrong while answering a request.
#[derive(Clone, Debug, thiserror::Error)]
pub(crate) enum AppError {
    #[error("{0}")]
    BadUserInput(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Unauthenticated(String),
    #[error("this requires the capability `{0}`")]
    Forbidden(String),
    #[error("{0}")]
    RateLimited(String),
    #[error("{0}")]
    QueryTooComplex(String),
    #[error("the database is unavailable; try again shortly")]
    Unavailable(#[source] Arc<DbErr>),
    /// PostgreSQL cancelled a statement at `database_statement_timeout_ms`.
    #[error(
        "a database statement ran longer than allowed and was cancelled; try again shortly, or ask for less"
    )]
    StatementTimeout(#[source] Arc<DbErr>),
    /// The service has not connected to and migrated its database yet.
    #[error("the service is starting: {0}; try again shortly")]
    Starting(String),
    #[error("internal error")]
    Internal(#[source] Arc<anyhow::Error>),
}

impl AppError {
    /// A caller's mistake, explained in `message`.
    pub(crate) fn bad_input(message: impl Into<String>) -> Self {
        Self::BadUserInput(message.into())
    }

    /// A bug or broken invariant on our side.
    pub(crate) fn internal(error: impl Into<anyhow::Error>) -> Self {
        Self::Internal(Arc::new(error.into()))
    }

    /// The code this error is answered with.
    pub(crate) fn code(&self) -> ErrorCode {
        match self {
            Self::BadUserInput(_) => ErrorCode::BadUserInput,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::Unauthenticated(_) => ErrorCode::Unauthenticated,
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::RateLimited(_) => ErrorCode::RateLimited,
            Self::QueryTooComplex(_) => ErrorCode::QueryTooComplex,
            Self::Unavailable(_) | Self::StatementTimeout(_) | Self::Starting(_) => {
                ErrorCode::ServiceUnavailable
            }
            Self::Internal(_) => ErrorCode::Internal,
        }
    }

    fn log(&self) {
        match self {
            Self::Unavailable(source) => {
                tracing::warn!(error = %source, "database unavailable");
            }
            Self::StatementTimeout(source) => {
                tracing::warn!(error = %source, "a statement hit the statement timeout");
            }
            Self::Internal(source) => tracing::error!(error = ?source, "internal error"),
            _ => {}
        }
    }
}

/// Whether a database error means "cannot reach the database" rather than "bad statement".
pub(crate) fn is_unavailable(error: &DbErr) -> bool {
    match error {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(error)) | DbErr::Query(RuntimeErr::SqlxError(error)) => {
            match error.as_ref() {
                sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::Protocol(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed => true,
                sqlx::Error::Database(error) => {
                    error.code().is_some_and(|code| unavailable_code(&code))
                }
                _ => false,
            }
        }
        _ => false,
    }
}

/// Whether the database cancelled a statement that ran past its `statement_timeout`
/// (PostgreSQL's `query_canceled`, 57014).
pub(crate) fn is_statement_timeout(error: &DbErr) -> bool {
    match error {
        DbErr::Exec(RuntimeErr::SqlxError(error)) | DbErr::Query(RuntimeErr::SqlxError(error)) => {
            matches!(error.as_ref(), sqlx::Error::Database(error) if error.code().as_deref() == Some("57014"))
        }
        _ => false,
    }
}

/// Whether a database's error code says "not reachable now" rather than "wrong".
fn unavailable_code(code: &str) -> bool {
    // PostgreSQL: connection exceptions (class 08), shutdown or start-up in progress
    // (57P01–57P03), too many connections (53300).
    if code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300") {
        return true;
    }
    // SQLite (primary codes): busy, locked, I/O error, cannot open.
    code.parse::<i32>()
        .is_ok_and(|code| matches!(code & 0xff, 5 | 6 | 10 | 14))
}

impl From<DbErr> for AppError {
    fn from(error: DbErr) -> Self {
        if is_statement_timeout(&error) {
            Self::StatementTimeout(Arc::new(error))
        } else if is_unavailable(&error) {
            Self::Unavailable(Arc::new(error))
        } else {
            Self::internal(error)
        }
    }
}

impl From<AppError> for async_graphql::Error {
    fn from(error: AppError) -> Self {
        error.log();
        async_graphql::Error::new(error.to_string())
            .extend_with(|_, extensions| extensions.set("code", error.code().as_str()))
    }
}

/// The result of a resolver.
pub(crate) type AppResult<T> = Result<T, AppError>;

/// Reads the argument `name` (a GraphQL `Int`) as a count from 1 to `max`; anything
/// else is `BAD_USER_INPUT`, saying the range.
pub(crate) fn count_argument(name: &str, value: i32, max: u64) -> AppResult<u64> {
    u64::try_from(value)
        .ok()
        .filter(|count| (1..=max).contains(count))
        .ok_or_else(|| {
            AppError::bad_input(format!("`{name}` must be between 1 and {max}, not {value}"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code_of(error: AppError) -> String {
        let error: async_graphql::Error = error.into();
        let extensions = error.extensions.expect("extensions are set");
        extensions.get("code").expect("code is set").to_string()
    }

    #[test]
    fn a_user_error_keeps_its_message_and_code() {
        let error: async_graphql::Error = AppError::bad_input("`first` must be 1..100").into();
        assert_eq!(error.message, "`first` must be 1..100");
        assert_eq!(code_of(AppError::bad_input("x")), "\"BAD_USER_INPUT\"");
    }

    #[test]
    fn a_database_error_never_shows_its_sql() {
        let db_error = DbErr::Custom("syntax error at or near SELECT secret".to_owned());
        let error: async_graphql::Error = AppError::from(db_error).into();
        assert_eq!(error.message, "internal error");
        assert!(!error.message.contains("SELECT"));
    }

    #[test]
    fn a_pool_timeout_is_service_unavailable() {
        let error = AppError::from(DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout));
        assert_eq!(code_of(error), "\"SERVICE_UNAVAILABLE\"");
    }

    #[test]
    fn forbidden_names_the_capability() {
        let error: async_graphql::Error = AppError::Forbidden("audit.view".to_owned()).into();
        assert!(error.message.contains("audit.view"));
    }
}
