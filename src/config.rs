//! The typed configuration: parsed and validated once, at start-up (SPEC §8).
//!
//! Sources, each overriding the one before: built-in defaults, the TOML file
//! (`--config`, else `control-tower.toml` when present), `CONTROL_TOWER_*` environment
//! variables (`__` separates nested keys: `CONTROL_TOWER_SYSTEM_CONSOLE__HEALTH__STALE_CHECK_HOURS`),
//! then command-line flags. Unknown keys and invalid values stop start-up with a message
//! that names the key.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::domain::criteria::Criteria;
use crate::domain::health::HealthRules;
use crate::domain::stuck::StuckRules;

/// The file read when `--config` is not given, if it exists.
pub(crate) const DEFAULT_CONFIG_FILE: &str = "control-tower.toml";
/// The prefix of every environment variable the service reads.
pub(crate) const ENV_PREFIX: &str = "CONTROL_TOWER_";

/// Everything the service can be configured with.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `sqlite://…` (embedded default) or `postgres://…`.
    pub database_url: String,
    /// Address the HTTP server binds, `host:port`.
    pub listen: String,
    /// Most connections the pool opens.
    pub database_max_connections: u32,
    /// How long a request waits for a pooled connection before it fails with
    /// `SERVICE_UNAVAILABLE`.
    pub database_acquire_timeout_ms: u64,
    /// PostgreSQL only: the longest one statement may run before the database cancels
    /// it (`statement_timeout`), so a slow query cannot hold a pooled connection after
    /// its request gave up. Must be below the request timeout. The request that hit it
    /// is answered `SERVICE_UNAVAILABLE`. SQLite has no such setting.
    pub database_statement_timeout_ms: u64,
    /// PostgreSQL only: streaming replicas of `database_url` that answer reads (SPEC
    /// §9d), as a list in the file, or separated by commas in
    /// `CONTROL_TOWER_DATABASE_REPLICA_URLS`. Queries read from a healthy replica;
    /// mutations, sessions, the login throttle, break-glass, the roll-ups' maintenance and
    /// migrations use `database_url`. An operator's reads after their own mutation stay
    /// on `database_url` until a replica has replayed it. Empty (default): every read
    /// goes to `database_url`.
    #[serde(deserialize_with = "urls")]
    pub database_replica_urls: Vec<String>,
    /// A replica further behind `database_url` than this many seconds, or not
    /// answering, is skipped until it catches up; its reads go to `database_url`.
    pub database_replica_max_lag_seconds: f64,
    /// PostgreSQL only: a direct connection to the primary, for the migrations and
    /// their advisory lock, seeding and the `operator` commands. Unset: `database_url`.
    /// Set it, to another URL, when `database_url` (and the replicas) go through a
    /// connection pooler in transaction mode, such as PgBouncer: the service then keeps
    /// no prepared statement and no session setting on the pooled connections, and
    /// runs each statement in a transaction of its own, its timeout set in it.
    pub database_direct_url: Option<String>,
    /// The console's rules and limits.
    pub system_console: SystemConsole,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: "sqlite://control-tower.db?mode=rwc".to_owned(),
            listen: "127.0.0.1:8080".to_owned(),
            database_max_connections: 10,
            database_acquire_timeout_ms: 3_000,
            database_statement_timeout_ms: 10_000,
            database_replica_urls: Vec::new(),
            database_replica_max_lag_seconds: 5.0,
            database_direct_url: None,
            system_console: SystemConsole::default(),
        }
    }
}

/// `system_console.*`: the thresholds and limits in force.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SystemConsole {
    pub stuck_thresholds: StuckThresholds,
    pub health: Health,
    pub auth: Auth,
    pub break_glass: BreakGlass,
    pub limits: Limits,
    pub cache: Cache,
    pub cors: Cors,
    pub persisted_queries: PersistedQueries,
    pub subscriptions: Subscriptions,
    pub log: Log,
    pub metrics: MetricsConfig,
    pub tracing: Tracing,
    /// Which callers may run only trusted documents (SPEC §9c): `"off"` (default: only
    /// a dashboard token made with `--document`), `"tokens"` (every dashboard token: its
    /// own documents, or the saved operations when it has none) or `"all"` (sessions
    /// too: the saved operations of `playground/operations/`).
    pub trusted_documents: TrustedDocuments,
}

/// `system_console.trusted_documents`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TrustedDocuments {
    /// Only tokens made with their own documents are bound to them.
    #[default]
    Off,
    /// Every dashboard token runs only trusted documents.
    Tokens,
    /// Every caller runs only trusted documents.
    All,
}

/// `system_console.tracing.*`: OpenTelemetry traces (SPEC §9e).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Tracing {
    /// An OpenTelemetry collector's OTLP/HTTP base URL (`http://host:4318`): spans are
    /// exported, as protobuf, to `<otlp_endpoint>/v1/traces`. Unset: no trace is made.
    pub otlp_endpoint: Option<String>,
    /// The `service.name` the spans carry.
    pub service_name: String,
}

impl Default for Tracing {
    fn default() -> Self {
        Self {
            otlp_endpoint: None,
            service_name: "control-tower".to_owned(),
        }
    }
}

/// `system_console.log.*`: what the service writes to standard error.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Log {
    /// `"text"` (one readable line per event) or `"json"` (one JSON object per line, for
    /// a log shipper). Unset: text when standard error is a terminal, JSON otherwise.
    /// Colours only ever go to a terminal. Which events are written is `RUST_LOG`'s
    /// choice (default `info`).
    pub format: Option<LogFormat>,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// `system_console.metrics.*`: `/metrics`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Where to serve `/metrics` instead of the main address, `host:port` (e.g. an
    /// address only the monitoring network reaches). Unset: `/metrics` is served on
    /// `listen` beside the API.
    pub listen: Option<String>,
    /// Operation names counted under their own name in `/metrics`, beyond the
    /// playground's saved operations; every other name is counted as `other`.
    pub operations: Vec<String>,
}

/// `system_console.subscriptions.*`: the WebSocket at `/graphql/ws`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Subscriptions {
    /// Most subscriptions one connection may hold at once; one more is answered with a
    /// `RATE_LIMITED` error.
    pub max_per_connection: u32,
    /// Most connections one operator may hold open at once, per instance; one more is
    /// closed with code 4429.
    pub max_connections_per_operator: u32,
}

impl Default for Subscriptions {
    fn default() -> Self {
        Self {
            max_per_connection: 10,
            max_connections_per_operator: 20,
        }
    }
}

/// `system_console.cors.*`: which browser origins may call the API from their pages.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Cors {
    /// Origins allowed to call `/graphql` from a browser, each `scheme://host[:port]`,
    /// e.g. `["https://console.example.com"]`. Empty (the default): no cross-origin
    /// call is allowed, and a preflight is refused. Never a wildcard: credentials are a
    /// bearer header, and an origin is either trusted or not.
    pub allowed_origins: Vec<String>,
    /// How long a browser may reuse a preflight's answer, in seconds.
    pub max_age_seconds: u32,
}

impl Default for Cors {
    fn default() -> Self {
        Self {
            allowed_origins: Vec::new(),
            max_age_seconds: 600,
        }
    }
}

/// `system_console.persisted_queries.*`: automatic persisted queries.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PersistedQueries {
    /// Most bytes of documents the service remembers by hash, per instance, beyond the
    /// saved operations; the least recently used are forgotten first.
    pub cache_bytes: u32,
}

impl Default for PersistedQueries {
    fn default() -> Self {
        Self {
            cache_bytes: 8 * 1024 * 1024,
        }
    }
}

/// `system_console.cache.*`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Cache {
    /// How long a computed Control Tower is served to every client asking for the same
    /// window, in seconds (0: computed for each request).
    pub control_tower_seconds: u32,
}

impl Default for Cache {
    fn default() -> Self {
        Self {
            control_tower_seconds: 5,
        }
    }
}

/// `system_console.stuck_thresholds.*`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StuckThresholds {
    pub queued_minutes: u32,
    pub running_minutes: u32,
}

impl Default for StuckThresholds {
    fn default() -> Self {
        Self {
            queued_minutes: 15,
            running_minutes: 60,
        }
    }
}

/// `system_console.health.*`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Health {
    pub stale_check_hours: u32,
    pub failed_runs_critical: u32,
}

impl Default for Health {
    fn default() -> Self {
        Self {
            stale_check_hours: 24,
            failed_runs_critical: 5,
        }
    }
}

/// `system_console.auth.*`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Auth {
    pub session_ttl_hours: u32,
}

impl Default for Auth {
    fn default() -> Self {
        Self {
            session_ttl_hours: 12,
        }
    }
}

/// `system_console.break_glass.*`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BreakGlass {
    pub max_minutes: u32,
}

impl Default for BreakGlass {
    fn default() -> Self {
        Self { max_minutes: 60 }
    }
}

/// `system_console.limits.*`: what one request may ask for (SPEC §9).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest `first`/`last` a connection accepts (at most 100).
    pub max_page_size: u32,
    /// Deepest field nesting a document may have (a leaf at the root is 1 deep); at most
    /// [`MAX_DEPTH_CEILING`] and at most `max_nesting`.
    pub max_depth: u32,
    /// Highest cost a document may have; a connection costs its page size times its
    /// selection.
    pub max_complexity: u32,
    /// Most aliased fields a document may have.
    pub max_aliases: u32,
    /// Most fields at the root of an operation.
    pub max_root_fields: u32,
    /// Largest request body, in bytes.
    pub max_body_bytes: u32,
    /// Longest GraphQL document (the `query` text), in bytes.
    pub max_document_bytes: u32,
    /// Deepest nesting a document may have, measured twice before anything recursive
    /// touches it: in its text (braces, brackets and parentheses outside strings and
    /// comments, so selections, lists and input objects alike) and once its fragments
    /// are spread (each field with a selection, inline fragment and fragment spread is a
    /// level). At most [`MAX_NESTING_CEILING`].
    pub max_nesting: u32,
    /// Most selections (fields, fragment spreads and inline fragments) a document may
    /// expand to once every fragment spread is replaced by the fragment it names.
    pub max_selections: u32,
    /// Most directives on one field, fragment, fragment spread, operation or variable.
    pub max_directives: u32,
    /// Longest a request may run before it is answered with an error; its body must
    /// arrive within it too (a body still arriving then is answered 408 and its
    /// connection closed).
    pub request_timeout_seconds: u32,
    /// How long a connection may take to send a complete request head — the first one
    /// from when it opens, the next one on a kept-alive connection from its first byte —
    /// before it is closed.
    pub header_read_timeout_seconds: u32,
    /// How long a kept-alive connection may stay idle between requests before it is
    /// closed.
    pub keep_alive_seconds: u32,
    /// Most connections open at once on `listen`, WebSockets included. At the cap a new
    /// connection is still accepted, and the oldest one that has not sent a request (else
    /// the oldest idle kept-alive one) is closed to make room. Unset: the process's file
    /// limit less what the database pools, the log and the ops listener need.
    pub max_connections: Option<u32>,
    /// Whether the schema can be introspected (switch off in production if wanted).
    pub introspection: bool,
    /// Each caller's allowance of query cost (SPEC §9e).
    pub cost_budget: CostBudget,
}

/// `system_console.limits.cost_budget.*`: a leaky bucket of query cost per operator,
/// per dashboard token and per address of unauthenticated callers. A request takes its
/// requested cost from it, or is refused `RATE_LIMITED` when that is more than is left;
/// the bucket fills again at `restore_per_second` up to `maximum`. Shared by the
/// instances on one PostgreSQL database; per instance on SQLite.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CostBudget {
    /// The most a bucket holds: what a caller idle for a while may spend at once. At
    /// least `max_complexity`, so that every admitted query can run.
    pub maximum: u32,
    /// How much cost a bucket regains each second.
    pub restore_per_second: u32,
}

impl Default for CostBudget {
    fn default() -> Self {
        Self {
            maximum: 1_000_000,
            restore_per_second: 50_000,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_page_size: 100,
            max_depth: 12,
            max_complexity: 50_000,
            max_aliases: 30,
            max_root_fields: 20,
            max_body_bytes: 256 * 1024,
            max_document_bytes: 64 * 1024,
            max_nesting: 64,
            max_selections: 5_000,
            max_directives: 5,
            request_timeout_seconds: 30,
            header_read_timeout_seconds: 10,
            keep_alive_seconds: 60,
            max_connections: None,
            introspection: true,
            cost_budget: CostBudget::default(),
        }
    }
}

/// The stack of each worker thread of the service's runtime: four times tokio's
/// default, so that the deepest document the ceilings below admit uses a small part of it.
pub const WORKER_STACK_BYTES: usize = 8 * 1024 * 1024;

/// The highest `max_nesting` the configuration accepts: the parser's own limit on nested
/// selection sets. Measured on a debug build (release frames are smaller), a level of
/// list or object nesting costs the parser about 1.2 KiB of stack and a level of
/// fragment spreads costs the executor about 6.6 KiB: 64 levels need at most 420 KiB of
/// a worker's 8 MiB ([`WORKER_STACK_BYTES`]).
pub const MAX_NESTING_CEILING: u32 = 64;
/// The highest `max_depth` the configuration accepts. Each level of fields executed
/// costs about 37 KiB of stack on a debug build (nested futures), so 32 levels need
/// 1.2 MiB of a worker's 8 MiB. A test runs documents at both ceilings on workers with a
/// quarter of that stack.
pub const MAX_DEPTH_CEILING: u32 = 32;

/// Values given on the command line; they override every other source.
#[derive(Clone, Debug, Default, Serialize)]
pub(crate) struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) listen: Option<String>,
}

/// A configuration that could not be loaded; the message names the key.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub(crate) struct ConfigError(String);

impl Config {
    /// What a request at `now` is judged by: these thresholds.
    pub(crate) fn criteria(&self, now: DateTime<Utc>) -> Criteria {
        let thresholds = &self.system_console.stuck_thresholds;
        let health = &self.system_console.health;
        Criteria {
            now,
            stuck: StuckRules {
                queued_minutes: thresholds.queued_minutes,
                running_minutes: thresholds.running_minutes,
            },
            health: HealthRules {
                stale_check_hours: health.stale_check_hours,
                failed_runs_critical: health.failed_runs_critical,
            },
        }
    }

    /// Loads defaults, the file, the environment and the flags, then validates.
    pub(crate) fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) if !path.exists() => {
                return Err(ConfigError(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            Some(path) => figment = figment.merge(Toml::file_exact(path)),
            None if Path::new(DEFAULT_CONFIG_FILE).exists() => {
                figment = figment.merge(Toml::file_exact(DEFAULT_CONFIG_FILE));
            }
            None => {}
        }
        let config: Config = figment
            .merge(Env::prefixed(ENV_PREFIX).split("__"))
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(|error| ConfigError(describe(error)))?;
        config.validate()?;
        Ok(config)
    }

    /// The listen address, already validated by [`Config::load`].
    pub(crate) fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.listen.parse().map_err(|_| {
            ConfigError(format!(
                "`listen` must be host:port with a numeric host, e.g. 127.0.0.1:8080, not {:?}",
                self.listen
            ))
        })
    }

    /// The address `/metrics` is served on apart from the API, already validated.
    pub(crate) fn metrics_addr(&self) -> Option<SocketAddr> {
        self.system_console
            .metrics
            .listen
            .as_deref()
            .and_then(|listen| listen.parse().ok())
    }

    /// How long a request may take, reading its body included.
    pub(crate) fn request_timeout(&self) -> Duration {
        Duration::from_secs(u64::from(
            self.system_console.limits.request_timeout_seconds,
        ))
    }

    /// The direct connection to the primary (see [`Config::database_direct_url`]).
    pub(crate) fn direct_url(&self) -> &str {
        self.database_direct_url
            .as_deref()
            .unwrap_or(&self.database_url)
    }

    /// Whether `database_url` and the replicas go through a pooler in transaction mode:
    /// a direct URL of its own was given.
    pub(crate) fn pooled(&self) -> bool {
        self.direct_url() != self.database_url
    }

    /// How long a request waits for a pooled connection.
    pub(crate) fn acquire_timeout(&self) -> Duration {
        Duration::from_millis(self.database_acquire_timeout_ms)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.listen_addr()?;
        if !(self.database_url.starts_with("sqlite:")
            || self.database_url.starts_with("postgres://")
            || self.database_url.starts_with("postgresql://"))
        {
            return Err(ConfigError(
                "`database_url` must start with sqlite:, postgres:// or postgresql://".to_owned(),
            ));
        }
        let postgres =
            |url: &str| url.starts_with("postgres://") || url.starts_with("postgresql://");
        let replicas = self.database_replica_urls.iter().map(String::as_str);
        if let Some(url) = replicas.chain(self.database_direct_url.as_deref()).next()
            && !(postgres(url) && postgres(&self.database_url))
        {
            return Err(ConfigError(format!(
                "`database_replica_urls` and `database_direct_url` are for PostgreSQL: they and `database_url` must start with postgres:// or postgresql://, not {:?}",
                redact_url(url)
            )));
        }
        let lag = self.database_replica_max_lag_seconds;
        if !(lag.is_finite() && lag > 0.0) {
            return Err(ConfigError(
                "`database_replica_max_lag_seconds` must be a number of seconds above 0".to_owned(),
            ));
        }
        let console = &self.system_console;
        let limits = &console.limits;
        let positive = [
            (
                "database_max_connections",
                u64::from(self.database_max_connections),
            ),
            (
                "database_acquire_timeout_ms",
                self.database_acquire_timeout_ms,
            ),
            (
                "system_console.stuck_thresholds.queued_minutes",
                console.stuck_thresholds.queued_minutes.into(),
            ),
            (
                "system_console.stuck_thresholds.running_minutes",
                console.stuck_thresholds.running_minutes.into(),
            ),
            (
                "system_console.health.stale_check_hours",
                console.health.stale_check_hours.into(),
            ),
            (
                "system_console.health.failed_runs_critical",
                console.health.failed_runs_critical.into(),
            ),
            (
                "system_console.auth.session_ttl_hours",
                console.auth.session_ttl_hours.into(),
            ),
            (
                "system_console.break_glass.max_minutes",
                console.break_glass.max_minutes.into(),
            ),
            ("system_console.limits.max_depth", limits.max_depth.into()),
            (
                "system_console.limits.max_complexity",
                limits.max_complexity.into(),
            ),
            (
                "system_console.limits.max_aliases",
                limits.max_aliases.into(),
            ),
            (
                "system_console.limits.max_root_fields",
                limits.max_root_fields.into(),
            ),
            (
                "system_console.limits.max_body_bytes",
                limits.max_body_bytes.into(),
            ),
            (
                "system_console.limits.max_document_bytes",
                limits.max_document_bytes.into(),
            ),
            (
                "system_console.limits.max_nesting",
                limits.max_nesting.into(),
            ),
            (
                "system_console.limits.max_selections",
                limits.max_selections.into(),
            ),
            (
                "system_console.limits.max_directives",
                limits.max_directives.into(),
            ),
            (
                "system_console.limits.request_timeout_seconds",
                limits.request_timeout_seconds.into(),
            ),
            (
                "system_console.limits.header_read_timeout_seconds",
                limits.header_read_timeout_seconds.into(),
            ),
            (
                "system_console.limits.keep_alive_seconds",
                limits.keep_alive_seconds.into(),
            ),
            (
                "system_console.limits.max_connections",
                limits.max_connections.map_or(1, u64::from),
            ),
            (
                "system_console.limits.cost_budget.restore_per_second",
                limits.cost_budget.restore_per_second.into(),
            ),
            (
                "system_console.subscriptions.max_per_connection",
                console.subscriptions.max_per_connection.into(),
            ),
            (
                "system_console.subscriptions.max_connections_per_operator",
                console.subscriptions.max_connections_per_operator.into(),
            ),
        ];
        if let Some((key, _)) = positive.iter().find(|(_, value)| *value == 0) {
            return Err(ConfigError(format!("`{key}` must be at least 1")));
        }
        let request_timeout_ms = u64::from(limits.request_timeout_seconds) * 1000;
        if !(1..request_timeout_ms).contains(&self.database_statement_timeout_ms) {
            return Err(ConfigError(format!(
                "`database_statement_timeout_ms` must be at least 1 and below the request timeout ({request_timeout_ms} ms, `system_console.limits.request_timeout_seconds`)"
            )));
        }
        if let Some(listen) = &console.metrics.listen
            && listen.parse::<SocketAddr>().is_err()
        {
            return Err(ConfigError(format!(
                "`system_console.metrics.listen` must be host:port with a numeric host, e.g. 127.0.0.1:9090, not {listen:?}"
            )));
        }
        if !(1..=100).contains(&limits.max_page_size) {
            return Err(ConfigError(
                "`system_console.limits.max_page_size` must be between 1 and 100".to_owned(),
            ));
        }
        if limits.max_nesting > MAX_NESTING_CEILING {
            return Err(ConfigError(format!(
                "`system_console.limits.max_nesting` must be at most {MAX_NESTING_CEILING}"
            )));
        }
        if limits.max_depth > MAX_DEPTH_CEILING {
            return Err(ConfigError(format!(
                "`system_console.limits.max_depth` must be at most {MAX_DEPTH_CEILING}"
            )));
        }
        for origin in &console.cors.allowed_origins {
            if !is_origin(origin) {
                return Err(ConfigError(format!(
                    "`system_console.cors.allowed_origins`: {origin:?} is not an origin; write scheme://host[:port], e.g. https://console.example.com, with no path and no wildcard"
                )));
            }
        }
        if limits.cost_budget.maximum < limits.max_complexity {
            return Err(ConfigError(format!(
                "`system_console.limits.cost_budget.maximum` must be at least `system_console.limits.max_complexity` ({}), or the costliest query admitted could never run",
                limits.max_complexity
            )));
        }
        if let Some(endpoint) = &console.tracing.otlp_endpoint
            && !is_http_endpoint(endpoint)
        {
            return Err(ConfigError(format!(
                "`system_console.tracing.otlp_endpoint` must be a collector's OTLP/HTTP base URL, http://host:port (no TLS: a collector or agent beside the service), not {:?}",
                redact_url(endpoint)
            )));
        }
        if console.tracing.service_name.trim().is_empty() {
            return Err(ConfigError(
                "`system_console.tracing.service_name` must not be empty".to_owned(),
            ));
        }
        if limits.max_depth > limits.max_nesting {
            return Err(ConfigError(
                "`system_console.limits.max_depth` must not exceed `system_console.limits.max_nesting`"
                    .to_owned(),
            ));
        }
        Ok(())
    }
}

/// Whether `text` is a plain-HTTP base URL: `http://`, a host, perhaps a port and path,
/// no query or fragment.
fn is_http_endpoint(text: &str) -> bool {
    text.strip_prefix("http://").is_some_and(|rest| {
        let host = rest.split('/').next().unwrap_or_default();
        !host.is_empty() && !rest.contains(['?', '#', ' ']) && !host.contains('@')
    })
}

/// Whether `text` is an origin as browsers send it: `http` or `https`, a host name or
/// address (IPv6 in brackets), perhaps a port, and nothing else.
fn is_origin(text: &str) -> bool {
    let Some((scheme, rest)) = text.split_once("://") else {
        return false;
    };
    let (host_ok, port) = match rest.strip_prefix('[') {
        Some(inner) => match inner.split_once(']') {
            Some((address, after)) => (
                address.parse::<std::net::Ipv6Addr>().is_ok(),
                after.strip_prefix(':').map(Some).unwrap_or(Some(after)),
            ),
            None => (false, None),
        },
        None => {
            let (host, port) = rest.split_once(':').map_or((rest, ""), |(h, p)| (h, p));
            let host_ok = !host.is_empty()
                && host
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || byte == b'.' || byte == b'-');
            (host_ok, Some(port))
        }
    };
    matches!(scheme, "http" | "https")
        && host_ok
        && port.is_some_and(|port| port.bytes().all(|byte| byte.is_ascii_digit()))
}

/// Turns figment's error into one line naming the key and where its value came from.
/// A database URL without its password, for messages.
pub(crate) fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// A list of URLs: a TOML array, or one string with the URLs separated by commas (as an
/// environment variable gives it).
fn urls<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Urls {
        List(Vec<String>),
        Joined(String),
    }
    let urls = match Urls::deserialize(deserializer)? {
        Urls::List(urls) => urls,
        Urls::Joined(joined) => joined.split(',').map(str::to_owned).collect(),
    };
    Ok(urls
        .into_iter()
        .map(|url| url.trim().to_owned())
        .filter(|url| !url.is_empty())
        .collect())
}

fn describe(error: figment::Error) -> String {
    error
        .into_iter()
        .map(|error| {
            let key = error.path.join(".");
            let source = error
                .metadata
                .as_ref()
                .map(|metadata| format!(" (from {})", metadata.name))
                .unwrap_or_default();
            if key.is_empty() {
                format!("{}{source}", error.kind)
            } else {
                format!("`{key}`: {}{source}", error.kind)
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml: &str) -> Result<Config, ConfigError> {
        let config: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string(toml))
            .extract()
            .map_err(|error| ConfigError(describe(error)))?;
        config.validate()?;
        Ok(config)
    }

    #[test]
    fn replicas_are_a_list_or_comma_separated_and_only_for_postgres() {
        let primary = "database_url = \"postgres://db-1/ops\"\n";
        let listed = parse(&format!(
            "{primary}database_replica_urls = [\"postgres://db-2/ops\", \"postgres://db-3/ops\"]"
        ))
        .unwrap();
        let joined = parse(&format!(
            "{primary}database_replica_urls = \"postgres://db-2/ops, postgres://db-3/ops\""
        ))
        .unwrap();
        assert_eq!(listed.database_replica_urls, joined.database_replica_urls);
        assert_eq!(listed.database_replica_urls.len(), 2);
        assert_eq!(listed.database_replica_max_lag_seconds, 5.0);
        assert!(!listed.pooled());
        let pooled = parse(&format!(
            "{primary}database_direct_url = \"postgres://reader:secret@db-1:5432/ops\""
        ))
        .unwrap();
        assert!(pooled.pooled());
        let on_sqlite = parse("database_replica_urls = [\"postgres://reader:secret@db-2/ops\"]")
            .unwrap_err()
            .to_string();
        assert!(on_sqlite.contains("`database_replica_urls`"), "{on_sqlite}");
        assert!(!on_sqlite.contains("secret"), "{on_sqlite}");
        let lag = parse(&format!("{primary}database_replica_max_lag_seconds = 0"))
            .unwrap_err()
            .to_string();
        assert!(lag.contains("`database_replica_max_lag_seconds`"), "{lag}");
    }

    #[test]
    fn defaults_match_the_spec() {
        let config = parse("").unwrap();
        assert_eq!(config.database_url, "sqlite://control-tower.db?mode=rwc");
        assert_eq!(config.listen, "127.0.0.1:8080");
        assert_eq!(config.system_console.stuck_thresholds.queued_minutes, 15);
        assert_eq!(config.system_console.stuck_thresholds.running_minutes, 60);
        assert_eq!(config.system_console.health.stale_check_hours, 24);
        assert_eq!(config.system_console.health.failed_runs_critical, 5);
        assert_eq!(config.system_console.auth.session_ttl_hours, 12);
        assert_eq!(config.system_console.break_glass.max_minutes, 60);
        assert_eq!(config.system_console.limits.max_page_size, 100);
        assert_eq!(config.system_console.limits.header_read_timeout_seconds, 10);
        assert_eq!(config.system_console.limits.keep_alive_seconds, 60);
        assert_eq!(config.system_console.limits.max_connections, None);
    }

    #[test]
    fn a_connection_cap_of_zero_names_its_key() {
        let error = parse("[system_console.limits]\nmax_connections = 0\n").unwrap_err();
        assert!(
            error
                .to_string()
                .contains("system_console.limits.max_connections"),
            "{error}"
        );
        let config = parse("[system_console.limits]\nmax_connections = 500\n").unwrap();
        assert_eq!(config.system_console.limits.max_connections, Some(500));
    }

    #[test]
    fn the_cost_budget_and_the_trace_endpoint_are_checked() {
        let refused = |toml: &str, key: &str| {
            let error = parse(toml).unwrap_err().to_string();
            assert!(error.contains(key), "{toml}: {error}");
            error
        };
        refused(
            "[system_console.limits]\nmax_complexity = 1000\ncost_budget.maximum = 999\n",
            "system_console.limits.cost_budget.maximum",
        );
        refused(
            "[system_console.limits.cost_budget]\nrestore_per_second = 0\n",
            "system_console.limits.cost_budget.restore_per_second",
        );
        for endpoint in [
            "https://collector:4318",
            "collector:4318",
            "http://",
            "http://a:b@collector:4318",
        ] {
            let error = refused(
                &format!("[system_console.tracing]\notlp_endpoint = \"{endpoint}\"\n"),
                "system_console.tracing.otlp_endpoint",
            );
            assert!(
                !error.contains(":b@"),
                "the password is not repeated: {error}"
            );
        }
        refused(
            "[system_console.tracing]\nservice_name = \" \"\n",
            "system_console.tracing.service_name",
        );
        let config = parse(
            "[system_console.limits.cost_budget]\nmaximum = 60000\nrestore_per_second = 10\n[system_console.tracing]\notlp_endpoint = \"http://127.0.0.1:4318\"\n",
        )
        .unwrap();
        assert_eq!(config.system_console.limits.cost_budget.maximum, 60_000);
        assert_eq!(
            config.system_console.tracing.otlp_endpoint.as_deref(),
            Some("http://127.0.0.1:4318")
        );
    }

    #[test]
    fn the_statement_timeout_stays_below_the_request_timeout() {
        let error = parse(
            "database_statement_timeout_ms = 30000\n[system_console.limits]\nrequest_timeout_seconds = 30",
        )
        .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("`database_statement_timeout_ms`"),
            "{error}"
        );
        assert_eq!(
            parse("database_statement_timeout_ms = 29999")
                .unwrap()
                .database_statement_timeout_ms,
            29_999
        );
    }

    #[test]
    fn the_log_format_is_text_or_json() {
        let config = parse("[system_console.log]\nformat = \"json\"").unwrap();
        assert_eq!(config.system_console.log.format, Some(LogFormat::Json));
        assert_eq!(parse("").unwrap().system_console.log.format, None);
        let error = parse("[system_console.log]\nformat = \"xml\"").unwrap_err();
        assert!(
            error.to_string().contains("system_console.log.format"),
            "{error}"
        );
    }

    #[test]
    fn a_metrics_address_must_be_an_address() {
        let error = parse("[system_console.metrics]\nlisten = \"metrics:9090\"").unwrap_err();
        assert!(
            error.to_string().contains("system_console.metrics.listen"),
            "{error}"
        );
    }

    #[test]
    fn a_nested_key_is_read_from_the_file() {
        let config = parse("[system_console.stuck_thresholds]\nqueued_minutes = 5\n").unwrap();
        assert_eq!(config.system_console.stuck_thresholds.queued_minutes, 5);
    }

    #[test]
    fn a_value_of_the_wrong_type_names_its_key() {
        let error = parse("[system_console.health]\nstale_check_hours = \"soon\"\n").unwrap_err();
        assert!(
            error
                .to_string()
                .contains("system_console.health.stale_check_hours"),
            "{error}"
        );
    }

    #[test]
    fn an_unknown_key_is_refused_by_name() {
        let error = parse("[system_console.health]\nstale_hours = 3\n").unwrap_err();
        assert!(error.to_string().contains("stale_hours"), "{error}");
    }

    #[test]
    fn a_zero_threshold_names_its_key() {
        let error = parse("[system_console.stuck_thresholds]\nrunning_minutes = 0\n").unwrap_err();
        assert!(
            error
                .to_string()
                .contains("system_console.stuck_thresholds.running_minutes"),
            "{error}"
        );
    }

    #[test]
    fn a_page_size_over_one_hundred_is_refused() {
        let error = parse("[system_console.limits]\nmax_page_size = 500\n").unwrap_err();
        assert!(error.to_string().contains("max_page_size"), "{error}");
    }

    #[test]
    fn nesting_above_the_ceiling_is_refused() {
        let error = parse("[system_console.limits]\nmax_nesting = 65\n").unwrap_err();
        assert!(error.to_string().contains("max_nesting"), "{error}");
        let error = parse("[system_console.limits]\nmax_nesting = 10\n").unwrap_err();
        assert!(error.to_string().contains("max_depth"), "{error}");
        let error = parse("[system_console.limits]\nmax_depth = 40\n").unwrap_err();
        assert!(error.to_string().contains("at most 32"), "{error}");
    }

    #[test]
    fn a_listen_address_without_a_port_is_refused() {
        let error = parse("listen = \"localhost\"\n").unwrap_err();
        assert!(error.to_string().contains("`listen`"), "{error}");
    }

    #[test]
    fn cors_takes_origins_and_nothing_else() {
        let config = parse(
            "[system_console.cors]\nallowed_origins = [\"https://console.example.com\", \"http://localhost:5173\", \"http://[::1]:3000\"]\n",
        )
        .unwrap();
        assert_eq!(config.system_console.cors.allowed_origins.len(), 3);
        assert!(
            parse("")
                .unwrap()
                .system_console
                .cors
                .allowed_origins
                .is_empty()
        );
        for wrong in [
            "*",
            "https://*.example.com",
            "console.example.com",
            "https://console.example.com/",
            "ftp://console.example.com",
            "https://console.example.com:https",
        ] {
            let error = parse(&format!(
                "[system_console.cors]\nallowed_origins = [{wrong:?}]\n"
            ))
            .unwrap_err();
            assert!(
                error.to_string().contains("allowed_origins"),
                "{wrong}: {error}"
            );
        }
    }
}
