//! The process's budget of open files, and the connection cap it leaves room for.

use crate::config::Config;

use super::OPS_MAX_CONNECTIONS;
use super::registry::CLOSING_SLACK;

/// Files the process holds besides connections and pools: standard streams, the
/// listeners, the runtime's epoll and event descriptors, a log file, the SQLite file.
const FIXED_FILES: u64 = 64;
/// Files one pooled database connection may hold: a socket on PostgreSQL; the database,
/// its write-ahead log and shared-memory index on SQLite.
const FILES_PER_DATABASE_CONNECTION: u64 = 3;
/// The pools one process may open: the requests', the aggregates' and the migrations'.
const POOLS: u64 = 3;
/// The smallest cap, whatever the file limit.
const MIN_CONNECTIONS: u64 = 16;

/// Raises the soft limit on open files to the hard limit and returns the soft limit
/// then in force (`None` if it cannot be read).
pub(crate) fn raise_file_limit() -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => Some(limit),
        Err(error) => {
            tracing::warn!(%error, "cannot raise the limit on open files");
            rlimit::getrlimit(rlimit::Resource::NOFILE)
                .ok()
                .map(|(soft, _)| soft)
        }
    }
}

/// The most connections `listen` may hold under a file limit of `files`: what is left
/// once the pools, the ops listener, the connections on their way out and the
/// process's own files are counted.
pub(crate) fn connection_budget(files: u64, config: &Config) -> u64 {
    let pools = POOLS * u64::from(config.database_max_connections) * FILES_PER_DATABASE_CONNECTION;
    let ops = if config.metrics_addr().is_some() {
        OPS_MAX_CONNECTIONS as u64 + CLOSING_SLACK as u64
    } else {
        0
    };
    let reserved = FIXED_FILES + pools + ops + CLOSING_SLACK as u64;
    files.saturating_sub(reserved).max(MIN_CONNECTIONS)
}

/// The cap of `listen`: `system_console.limits.max_connections`, or the budget the file
/// limit leaves — and never more than that budget, since a cap the process cannot open
/// would fail the database's connections before the clients'.
pub(crate) fn max_connections(config: &Config, files: Option<u64>) -> usize {
    let configured = config.system_console.limits.max_connections.map(u64::from);
    let budget = files.map(|files| connection_budget(files, config));
    let cap = match (configured, budget) {
        (Some(configured), Some(budget)) if configured > budget => {
            tracing::warn!(
                configured,
                budget,
                files,
                "`system_console.limits.max_connections` is more than the limit on open files leaves room for; serving at most the budget"
            );
            budget
        }
        (Some(configured), _) => configured,
        (None, Some(budget)) => budget,
        (None, None) => 1024,
    };
    usize::try_from(cap).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_leaves_room_for_the_pools_and_the_process() {
        let config = Config::default();
        let budget = connection_budget(20_000, &config);
        assert_eq!(budget, 20_000 - 64 - 3 * 10 * 3 - 32);
        assert_eq!(connection_budget(100, &config), MIN_CONNECTIONS);
    }

    #[test]
    fn a_configured_cap_is_kept_within_the_budget() {
        let mut config = Config::default();
        config.system_console.limits.max_connections = Some(500);
        assert_eq!(max_connections(&config, Some(20_000)), 500);
        config.system_console.limits.max_connections = Some(50_000);
        assert_eq!(
            max_connections(&config, Some(20_000)),
            connection_budget(20_000, &config) as usize
        );
    }
}
