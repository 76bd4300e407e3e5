//! Where the service's log goes, and in what shape (SPEC §9b).
//!
//! Text for a person at a terminal, one JSON object per line for a log shipper: by
//! default text when standard error is a terminal and JSON otherwise, or as
//! `system_console.log.format` says. Colour codes only ever go to a terminal. Every
//! line written while a request runs carries the request's span — its id, method,
//! path and, once known, operator id — as the `span` object in JSON.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// What is logged when `RUST_LOG` says nothing.
const DEFAULT_FILTER: &str = "info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn";

/// Installs the process's log subscriber, writing to standard error.
pub(crate) fn init(format: Option<LogFormat>) {
    let terminal = std::io::stderr().is_terminal();
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(terminal);
    let format = format.unwrap_or(if terminal {
        LogFormat::Text
    } else {
        LogFormat::Json
    });
    // A second call (in-process tests) keeps the first subscriber.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}
