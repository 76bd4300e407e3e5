# Sourced by the bench scripts, from the repository's root.

# One operator sends every request of a round: its query cost budget (SPEC §9e) is set
# beyond what any round spends, so that none is refused; its bookkeeping still runs.
export CONTROL_TOWER_SYSTEM_CONSOLE__LIMITS__COST_BUDGET__MAXIMUM="${COST_BUDGET:-4000000000}"
export CONTROL_TOWER_SYSTEM_CONSOLE__LIMITS__COST_BUDGET__RESTORE_PER_SECOND="${COST_BUDGET:-4000000000}"

# Runs a PostgreSQL program as `postgres` when run as root (initdb refuses root).
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
# A free TCP port on the loopback address.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
