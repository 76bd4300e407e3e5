#[cfg(test)]
mod architecture;
pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod graphql;
pub mod logging;
pub mod metrics;
pub mod seed;
pub mod server;
