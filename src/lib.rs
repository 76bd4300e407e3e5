//! Control Tower: a GraphQL service over a multi-tenant platform's operations metadata.
//!
//! # Where things live
//!
//! | module | what it holds |
//! |---|---|
//! | [`cli`] | the commands (`serve`, `migrate`, `seed`, `schema`, `operator`); it starts everything else |
//! | [`config`] | the typed configuration, read and validated once at start-up |
//! | [`server`] | the HTTP surface: routes, middleware, checking every document before it runs, the response's shape, persisted queries, the WebSocket, the playground, readiness |
//! | [`graphql`] | the schema: one file per object type in `types/`, the request's `Scope`, its loaders and when their batches go (`settle`, `coalesce`), objects answered without per-field futures (`immediate`), Relay connections, guards |
//! | [`auth`] | sessions, capabilities, login and its throttle, break-glass, operators |
//! | [`db`] | the database handle and its statement counter, and the queries: one file per aggregate, with the SQL forms of the domain's rules |
//! | `domain` | the pure rules — stuck runs, health badges, windows, redaction, stored values and audit actions, the request's `Criteria` — unit-tested beside their code |
//! | [`seed`] | the deterministic data generator of `seed` and `serve --demo` |
//! | `metrics`, `logging`, `telemetry`, `error` | what `/metrics` reports; the log's format; the OpenTelemetry traces; the error contract (SPEC §6) |
//!
//! The tables are the `entity` crate's, their migrations the `migration` crate's.
//!
//! # Which way the dependencies go
//!
//! `cli` → `server` → `graphql` → `auth` → `db` → `domain`, each layer using only those
//! to its right. `config`, `error`, `metrics`, `logging` and `telemetry` stand beside the layers: any
//! may use them, and they use nothing above `domain`. `domain` imports nothing of ours
//! but its own types, and `entity` knows nothing of GraphQL. No two modules import each other, except the object types of
//! `graphql/types/`, which refer to one another as the schema's graph does. A test
//! (`architecture.rs`) holds the code to that, and to spelling each stored value and
//! audit action once, in `domain`.
//!
//! The library is public only as far as the binary and the integration tests need:
//! everything else is `pub(crate)`, so the compiler reports what nothing uses.

#[cfg(test)]
mod architecture;
pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub(crate) mod domain;
pub(crate) mod error;
pub mod graphql;
pub(crate) mod logging;
pub(crate) mod metrics;
pub mod seed;
pub mod server;
pub(crate) mod telemetry;
