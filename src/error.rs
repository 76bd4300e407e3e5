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
    /// Refused for who the caller is rather than a capability it lacks: a document a
    /// dashboard token does not trust, an operator's action asked for without a session.
    #[error("{0}")]
    Denied(String),
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
            Self::Forbidden(_) | Self::Denied(_) => ErrorCode::Forbidden,
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

/// The code a database answered a statement with.
#[derive(Debug)]
enum DatabaseCode {
    /// PostgreSQL's SQLSTATE: five characters, the first two its class.
    SqlState(String),
    /// SQLite's (extended) result code; its low byte is the primary code.
    Sqlite(i32),
}

impl DatabaseCode {
    /// The code `error` carries, told apart by the database that sent it: a SQLSTATE
    /// such as `22021` reads as a number too, and must not be taken for SQLite's.
    fn of(error: &DbErr) -> Option<Self> {
        match error {
            DbErr::Exec(RuntimeErr::SqlxError(error))
            | DbErr::Query(RuntimeErr::SqlxError(error)) => Self::of_sqlx(error),
            _ => None,
        }
    }

    fn of_sqlx(error: &sqlx::Error) -> Option<Self> {
        let sqlx::Error::Database(error) = error else {
            return None;
        };
        if let Some(error) = error.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
            return Some(Self::SqlState(error.code().to_owned()));
        }
        if error
            .try_downcast_ref::<sqlx::sqlite::SqliteError>()
            .is_some()
        {
            return error.code()?.parse().ok().map(Self::Sqlite);
        }
        None
    }

    /// Whether the code says "not reachable now" rather than "wrong".
    fn is_unavailable(&self) -> bool {
        match self {
            // Connection exceptions (class 08), shutdown or start-up in progress
            // (57P01–57P03), too many connections (53300).
            Self::SqlState(code) => {
                code.starts_with("08")
                    || matches!(code.as_str(), "57P01" | "57P02" | "57P03" | "53300")
            }
            // Busy, locked, I/O error, cannot open.
            Self::Sqlite(code) => matches!(code & 0xff, 5 | 6 | 10 | 14),
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
                sqlx::Error::Database(_) => {
                    DatabaseCode::of_sqlx(error).is_some_and(|code| code.is_unavailable())
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
    matches!(DatabaseCode::of(error), Some(DatabaseCode::SqlState(code)) if code == "57014")
}

/// The SQLSTATE, when the database refused a value of the statement (PostgreSQL's data exceptions,
/// class 22: text it cannot store, a number out of its column's range). Every value a
/// client sends is checked before any SQL; one that still reaches the database is the
/// client's all the same. SQLite has no such class: it compares any value with any.
fn data_exception(error: &DbErr) -> Option<String> {
    match DatabaseCode::of(error) {
        Some(DatabaseCode::SqlState(code)) if code.starts_with("22") => Some(code),
        _ => None,
    }
}

impl From<DbErr> for AppError {
    fn from(error: DbErr) -> Self {
        if is_statement_timeout(&error) {
            Self::StatementTimeout(Arc::new(error))
        } else if is_unavailable(&error) {
            Self::Unavailable(Arc::new(error))
        } else if let Some(sqlstate) = data_exception(&error) {
            // The database's message may quote the client's value: kept out of the answer
            // and of the log, which says only which exception it was.
            tracing::info!(sqlstate, "the database refused a value of the request");
            Self::bad_input(DATA_EXCEPTION)
        } else {
            Self::internal(error)
        }
    }
}

/// How a value the database refused is explained.
pub(crate) const DATA_EXCEPTION: &str = "a value in the request is not one the database can use (a number out of range, or text it cannot store); check the arguments";

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

    /// A value PostgreSQL refuses (a NUL in text, an integer out of range) that reached
    /// it anyway, on a server of its own: the client's mistake, said without the value.
    #[tokio::test]
    #[cfg_attr(
        not(postgres_tests),
        ignore = "TEST_DATABASE_URL is not set: PostgreSQL skipped"
    )]
    async fn a_value_postgresql_refuses_is_the_clients_mistake() {
        use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};

        let url = std::env::var("TEST_DATABASE_URL").expect("TEST_DATABASE_URL");
        let db = Database::connect(url).await.expect("PostgreSQL answers");
        for (sql, value) in [
            ("SELECT CAST($1 AS text)", sea_orm::Value::from("a\0b")),
            (
                "SELECT CAST($1 AS integer)",
                sea_orm::Value::from(3_000_000_000_i64),
            ),
        ] {
            let statement = Statement::from_sql_and_values(DbBackend::Postgres, sql, [value]);
            let error = AppError::from(db.query_one_raw(statement).await.unwrap_err());
            assert_eq!(error.code(), ErrorCode::BadUserInput, "{sql}: {error:?}");
            assert_eq!(error.to_string(), DATA_EXCEPTION);
        }
        let wrong = Statement::from_string(DbBackend::Postgres, "SELECT FROM nowhere");
        let error = AppError::from(db.query_one_raw(wrong).await.unwrap_err());
        assert_eq!(
            error.code(),
            ErrorCode::Internal,
            "our own mistake: {error:?}"
        );
    }

    #[test]
    fn forbidden_names_the_capability() {
        let error: async_graphql::Error = AppError::Forbidden("audit.view".to_owned()).into();
        assert!(error.message.contains("audit.view"));
    }
}
