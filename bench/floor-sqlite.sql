-- The floor on SQLite: the Control Tower's aggregates as plain SQL in sqlite3, for the
-- window from :start to :end (the service's timestamp text, so they compare as text):
--   sqlite3 DB ".param set :start '2026-12-05T12:00:00+00:00'" ".param set :end '…'" \
--     ".param set :queued '…'" ".param set :running '…'" ".param set :stale '…'" ".read bench/floor-sqlite.sql"
-- :queued and :running are the stuck boundaries (end − 15 min, end − 60 min), :stale the
-- health's (end − 24 h). SQLite has no grouping sets: one scan grouped by type, tenant
-- and workspace together, whose rows sum to the overall, per-type, per-tenant and
-- per-workspace counts.
.timer on

SELECT "type", tenant_id, workspace_id, COUNT(*) AS total,
       SUM(status = 'queued'), SUM(status = 'running'), SUM(status = 'completed'),
       SUM(outcome = 'succeeded'), SUM(outcome = 'partially_succeeded'), SUM(outcome = 'failed'),
       SUM(outcome = 'canceled'),
       SUM((status = 'queued' AND started_at IS NULL AND created_at <= :queued)
           OR (status = 'running' AND started_at IS NOT NULL AND started_at <= :running))
FROM operation_runs
WHERE created_at >= :start AND created_at <= :end
GROUP BY "type", tenant_id, workspace_id;

SELECT COUNT(*) FROM operation_runs
WHERE (status = 'queued' AND started_at IS NULL AND created_at <= :queued)
   OR (status = 'running' AND started_at IS NOT NULL AND started_at <= :running);

SELECT level, COUNT(*) FROM (
  SELECT t.id, t.status, MAX(
    CASE WHEN t.status = 'active' THEN 0 WHEN t.status = 'onboarding' THEN 2 ELSE 1 END,
    COALESCE(c.level, 3), COALESCE(p.level, 1),
    CASE WHEN COALESCE(r.stuck, 0) > 0 THEN 3 WHEN COALESCE(r.failed, 0) >= 5 THEN 3
         WHEN COALESCE(r.failed, 0) >= 1 THEN 2 ELSE 0 END) AS level
  FROM tenants t
  LEFT JOIN (SELECT tenant_id, MAX(CASE
      WHEN status = 'error' THEN 3 WHEN status = 'needs_consent' THEN 2
      WHEN status = 'connected' AND last_health_check_at IS NULL
        THEN CASE health_status WHEN 'down' THEN 3 WHEN 'degraded' THEN 2 ELSE 1 END
      WHEN status = 'connected' AND last_health_check_at < :stale
        THEN CASE WHEN health_status = 'down' THEN 3 ELSE 2 END
      WHEN status = 'connected' THEN CASE health_status WHEN 'ok' THEN 0 WHEN 'degraded' THEN 2 WHEN 'down' THEN 3 ELSE 1 END
      ELSE 1 END) AS level
    FROM provider_connections WHERE status <> 'disabled' GROUP BY tenant_id) c ON c.tenant_id = t.id
  LEFT JOIN (SELECT tenant_id, MAX(CASE
      WHEN status = 'missing' THEN 3 WHEN status = 'error' THEN 2
      WHEN status = 'granted' AND (last_checked_at IS NULL OR last_checked_at < :stale) THEN 2
      WHEN status = 'granted' THEN 0 ELSE 1 END) AS level
    FROM tenant_permissions GROUP BY tenant_id) p ON p.tenant_id = t.id
  LEFT JOIN (SELECT tenant_id,
      SUM((status = 'queued' AND started_at IS NULL AND created_at <= :queued)
          OR (status = 'running' AND started_at IS NOT NULL AND started_at <= :running)) AS stuck,
      SUM(outcome = 'failed') AS failed
    FROM operation_runs WHERE created_at >= :start AND created_at <= :end AND tenant_id IS NOT NULL
    GROUP BY tenant_id) r ON r.tenant_id = t.id
) levels WHERE status <> 'archived' GROUP BY level;

SELECT SUM(action = 'platform.auth.login' AND status = 'success'),
       SUM(action = 'platform.auth.login' AND status = 'failure'),
       SUM(action = 'platform.break_glass.enter' AND status = 'success')
FROM audit_logs
WHERE action IN ('platform.auth.login', 'platform.break_glass.enter')
  AND recorded_at >= :start AND recorded_at <= :end;
