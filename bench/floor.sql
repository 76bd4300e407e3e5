-- The floor: the Control Tower's aggregates as plain SQL, for one window ending now.
-- psql -X -v window="'24 hours'" -f bench/floor.sql
-- Thresholds are the defaults (queued 15 min, running 60 min, stale 24 h, critical 5).
\set ON_ERROR_STOP on
\timing on

-- Run counts: overall, per type, per tenant, per workspace, in one scan.
SELECT GROUPING("type", tenant_id, workspace_id) AS g, "type", tenant_id, workspace_id,
       COUNT(*) AS total,
       SUM(CASE WHEN status = 'queued' THEN 1 ELSE 0 END) AS queued,
       SUM(CASE WHEN status = 'running' THEN 1 ELSE 0 END) AS running,
       SUM(CASE WHEN status = 'completed' THEN 1 ELSE 0 END) AS completed,
       SUM(CASE WHEN outcome = 'succeeded' THEN 1 ELSE 0 END) AS succeeded,
       SUM(CASE WHEN outcome = 'partially_succeeded' THEN 1 ELSE 0 END) AS partially_succeeded,
       SUM(CASE WHEN outcome = 'failed' THEN 1 ELSE 0 END) AS failed,
       SUM(CASE WHEN outcome = 'canceled' THEN 1 ELSE 0 END) AS canceled,
       SUM(CASE WHEN (status = 'queued' AND started_at IS NULL AND created_at <= now() - interval '15 minutes')
                  OR (status = 'running' AND started_at IS NOT NULL AND started_at <= now() - interval '60 minutes')
                THEN 1 ELSE 0 END) AS stuck
FROM operation_runs
WHERE created_at >= now() - :window::interval AND created_at <= now()
GROUP BY GROUPING SETS ((), ("type"), (tenant_id), (workspace_id));

-- Stuck runs, whatever their age.
SELECT COUNT(*) FROM operation_runs
WHERE (status = 'queued' AND started_at IS NULL AND created_at <= now() - interval '15 minutes')
   OR (status = 'running' AND started_at IS NOT NULL AND started_at <= now() - interval '60 minutes');

-- Tenants per health level (not archived).
SELECT level, COUNT(*) FROM (
  SELECT t.id, t.status, GREATEST(
    CASE WHEN t.status = 'active' THEN 0 WHEN t.status = 'onboarding' THEN 2 ELSE 1 END,
    COALESCE(c.level, 3), COALESCE(p.level, 1),
    CASE WHEN COALESCE(r.stuck, 0) > 0 THEN 3 WHEN COALESCE(r.failed, 0) >= 5 THEN 3
         WHEN COALESCE(r.failed, 0) >= 1 THEN 2 ELSE 0 END) AS level
  FROM tenants t
  LEFT JOIN (SELECT tenant_id, MAX(CASE
      WHEN status = 'error' THEN 3 WHEN status = 'needs_consent' THEN 2
      WHEN status = 'connected' AND last_health_check_at IS NULL
        THEN CASE health_status WHEN 'down' THEN 3 WHEN 'degraded' THEN 2 ELSE 1 END
      WHEN status = 'connected' AND last_health_check_at < now() - interval '24 hours'
        THEN CASE WHEN health_status = 'down' THEN 3 ELSE 2 END
      WHEN status = 'connected' THEN CASE health_status WHEN 'ok' THEN 0 WHEN 'degraded' THEN 2 WHEN 'down' THEN 3 ELSE 1 END
      ELSE 1 END) AS level
    FROM provider_connections WHERE status <> 'disabled' GROUP BY tenant_id) c ON c.tenant_id = t.id
  LEFT JOIN (SELECT tenant_id, MAX(CASE
      WHEN status = 'missing' THEN 3 WHEN status = 'error' THEN 2
      WHEN status = 'granted' AND (last_checked_at IS NULL OR last_checked_at < now() - interval '24 hours') THEN 2
      WHEN status = 'granted' THEN 0 ELSE 1 END) AS level
    FROM tenant_permissions GROUP BY tenant_id) p ON p.tenant_id = t.id
  LEFT JOIN (SELECT tenant_id,
      SUM(CASE WHEN (status = 'queued' AND started_at IS NULL AND created_at <= now() - interval '15 minutes')
                 OR (status = 'running' AND started_at IS NOT NULL AND started_at <= now() - interval '60 minutes')
               THEN 1 ELSE 0 END) AS stuck,
      SUM(CASE WHEN outcome = 'failed' THEN 1 ELSE 0 END) AS failed
    FROM operation_runs WHERE created_at >= now() - :window::interval AND created_at <= now() AND tenant_id IS NOT NULL
    GROUP BY tenant_id) r ON r.tenant_id = t.id
) levels WHERE status <> 'archived' GROUP BY level;

-- Operator access.
SELECT SUM(CASE WHEN action = 'platform.auth.login' AND status = 'success' THEN 1 ELSE 0 END),
       SUM(CASE WHEN action = 'platform.auth.login' AND status = 'failure' THEN 1 ELSE 0 END),
       SUM(CASE WHEN action = 'platform.break_glass.enter' AND status = 'success' THEN 1 ELSE 0 END)
FROM audit_logs
WHERE action IN ('platform.auth.login', 'platform.break_glass.enter')
  AND recorded_at >= now() - :window::interval AND recorded_at <= now();
