//! Integration tests: the real server over HTTP, on a fresh SQLite database and a fresh
//! PostgreSQL database per test (SPEC §1). One binary, so it links once.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail loudly: a panic with a message is the right outcome"
)]

mod auth;
mod cli;
mod clients;
mod cluster;
mod common;
mod cost;
mod estate;
mod fixtures;

mod derived;
mod filters;
mod flood;
mod graph;
mod hostile;
mod http;
mod immediate;
mod input_errors;
mod live;
mod lookups;
mod migrations;
mod ops;
mod pagination;
mod playground;
mod rollups;
mod scale;
mod schema_file;
mod seeding;
mod statements;
mod subscriptions;
mod tampered;
mod traces;
mod transport;
