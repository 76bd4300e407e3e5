//! Where the service's log goes, and in what shape (SPEC §9b).
//!
//! Text for a person at a terminal, one JSON object per line for a log shipper: by
//! default text when standard error is a terminal and JSON otherwise, or as
//! `system_console.log.format` says. Colour codes only ever go to a terminal. Every
//! line written while a request runs carries the request's span — its id, method,
//! path and, once known, operator id — as the `span` object in JSON.

use std::io::IsTerminal;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{LogFormat, Tracing};

/// What is logged when `RUST_LOG` says nothing.
const DEFAULT_FILTER: &str = "info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn";

/// Installs the process's log subscriber, writing to standard error, and the trace
/// exporter when `tracing` names a collector (see `crate::telemetry`). The log's filter
/// applies to the log only: traces get the service's spans whatever `RUST_LOG` says.
pub(crate) fn init(format: Option<LogFormat>, tracing: &Tracing) -> Result<(), String> {
    let terminal = std::io::stderr().is_terminal();
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let format = format.unwrap_or(if terminal {
        LogFormat::Text
    } else {
        LogFormat::Json
    });
    let log = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(terminal);
    let log = match format {
        LogFormat::Text => log.with_filter(filter).boxed(),
        LogFormat::Json => log
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_filter(filter)
            .boxed(),
    };
    let traces = crate::telemetry::layer(tracing)?;
    // A second call (in-process tests) keeps the first subscriber.
    let _ = tracing_subscriber::registry()
        .with(log)
        .with(traces)
        .try_init();
    Ok(())
}
