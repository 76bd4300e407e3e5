-- The dense profile (issue #26) for SQLite, by plain SQL, into a freshly migrated, empty
-- database; the same data as bench/dense/postgres.sql, with whole-second timestamps in
-- the service's one text format (RFC 3339, `+00:00`):
--   sqlite3 control-tower.db ".param set :runs 1000000" ".read bench/dense/sqlite.sql"
.bail on
.timer on
PRAGMA journal_mode = WAL;
PRAGMA synchronous = OFF;
BEGIN;
CREATE TEMP TABLE clock AS SELECT CAST(strftime('%s', 'now') AS INTEGER) AS now;

INSERT INTO workspaces (id, name, slug, created_at, updated_at)
WITH RECURSIVE w(w) AS (SELECT 1 UNION ALL SELECT w + 1 FROM w WHERE w < 50)
SELECT w, 'Dense workspace ' || printf('%02d', w), 'dense-' || w,
       strftime('%Y-%m-%dT%H:%M:%S+00:00', (SELECT now FROM clock) - 400 * 86400, 'unixepoch'),
       strftime('%Y-%m-%dT%H:%M:%S+00:00', (SELECT now FROM clock) - 400 * 86400, 'unixepoch')
FROM w;

INSERT INTO tenants (id, external_id, name, workspace_id, status, environment, rbac_last_checked_at,
                     rbac_last_setup_at, rbac_canary_results, rbac_last_warnings, metadata, created_at, updated_at)
WITH RECURSIVE t(t) AS (SELECT 1 UNION ALL SELECT t + 1 FROM t WHERE t < 5000)
SELECT t, 'dense-' || t, 'Dense tenant ' || printf('%04d', t), (t - 1) / 100 + 1, 'active',
       CASE WHEN t % 5 = 0 THEN 'staging' ELSE 'production' END,
       strftime('%Y-%m-%dT%H:%M:%S+00:00', (SELECT now FROM clock) - 7200, 'unixepoch'),
       strftime('%Y-%m-%dT%H:%M:%S+00:00', (SELECT now FROM clock) - 90 * 86400, 'unixepoch'),
       '{}', '[]', '{}',
       strftime('%Y-%m-%dT%H:%M:%S+00:00', (SELECT now FROM clock) - 365 * 86400, 'unixepoch'),
       strftime('%Y-%m-%dT%H:%M:%S+00:00', (SELECT now FROM clock) - 86400, 'unixepoch')
FROM t;

INSERT INTO provider_connections (id, tenant_id, provider, is_default, status, health_status, scopes_granted,
                                  last_health_check_at, metadata, created_at, updated_at)
WITH RECURSIVE c(c) AS (SELECT 1 UNION ALL SELECT c + 1 FROM c WHERE c < 6250),
pairs AS (SELECT c, CASE WHEN c > 5000 THEN (c - 5000) * 4 ELSE c END AS t FROM c)
SELECT c, t, CASE WHEN c > 5000 THEN 'google' ELSE 'microsoft' END, c <= 5000,
       CASE WHEN (t * 37) % 100 < 3 THEN 'error' WHEN (t * 37) % 100 < 8 THEN 'needs_consent' ELSE 'connected' END,
       CASE WHEN (t * 53) % 100 < 5 THEN 'degraded' WHEN (t * 53) % 100 < 7 THEN 'down' ELSE 'ok' END,
       '["User.Read"]', strftime('%Y-%m-%dT%H:%M:%S+00:00', (SELECT now FROM clock) - (t % 30) * 3600, 'unixepoch'), '{}',
       strftime('%Y-%m-%dT%H:%M:%S+00:00', (SELECT now FROM clock) - 300 * 86400, 'unixepoch'),
       strftime('%Y-%m-%dT%H:%M:%S+00:00', (SELECT now FROM clock) - 3600, 'unixepoch')
FROM pairs;

INSERT INTO tenant_permissions (id, tenant_id, key, status, details, last_checked_at, created_at, updated_at)
WITH RECURSIVE t(t) AS (SELECT 1 UNION ALL SELECT t + 1 FROM t WHERE t < 5000),
k(k, key) AS (VALUES (1, 'User.Read.All'), (2, 'Group.Read.All'), (3, 'Directory.Read.All'),
                     (4, 'Policy.Read.All'), (5, 'AuditLog.Read.All'), (6, 'Reports.Read.All'))
SELECT (t - 1) * 6 + k, t, key,
       CASE WHEN ((t * 6 + k) * 2654435761 >> 16) % 100 < 2 THEN 'missing'
            WHEN ((t * 6 + k) * 2654435761 >> 16) % 100 < 5 THEN 'error' ELSE 'granted' END,
       '{}', strftime('%Y-%m-%dT%H:%M:%S+00:00', (SELECT now FROM clock) - 3 * 3600, 'unixepoch'),
       strftime('%Y-%m-%dT%H:%M:%S+00:00', (SELECT now FROM clock) - 300 * 86400, 'unixepoch'),
       strftime('%Y-%m-%dT%H:%M:%S+00:00', (SELECT now FROM clock) - 3 * 3600, 'unixepoch')
FROM t, k;

INSERT INTO operation_runs (id, workspace_id, tenant_id, user_id, initiator_name, type, status, outcome,
                            summary_counts, failure_summary, context, created_at, started_at, completed_at, updated_at)
WITH RECURSIVE i(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM i WHERE i < :runs),
types(n, name) AS (VALUES (0, 'inventory.sync'), (1, 'policy.apply'), (2, 'report.export'), (3, 'backup.verify'),
                          (4, 'license.audit'), (5, 'mailbox.scan'), (6, 'device.sync'), (7, 'user.provision'),
                          (8, 'group.sync'), (9, 'secure_score.fetch'), (10, 'alert.triage'), (11, 'baseline.compare')),
runs AS (
  SELECT i, ((i - 1) % 5000) + 1 AS tenant, ((i * 2246822519) >> 18) % 50 = 0 AS orphan,
         ((i * 2654435761) >> 16) % 1000 AS r, ((i * 2246822519) >> 22) % 100 AS o,
         ((i * 3266489917) >> 20) % 12 AS kind,
         (SELECT now FROM clock) - 30 * 86400 + ((i - 1) * 2592000) / :runs AS created
  FROM i
)
SELECT i, CASE WHEN orphan THEN (i % 50) + 1 ELSE (tenant - 1) / 100 + 1 END,
       CASE WHEN orphan THEN NULL ELSE tenant END, NULL, 'scheduler',
       (SELECT name FROM types WHERE n = kind),
       CASE WHEN r < 8 THEN 'queued' WHEN r < 15 THEN 'running' ELSE 'completed' END,
       CASE WHEN r < 15 THEN 'pending' WHEN o < 10 THEN 'failed' WHEN o < 17 THEN 'partially_succeeded'
            WHEN o < 22 THEN 'canceled' ELSE 'succeeded' END,
       '{}', '[]', '{}', strftime('%Y-%m-%dT%H:%M:%S+00:00', created, 'unixepoch'),
       CASE WHEN r < 8 THEN NULL WHEN r < 15 THEN strftime('%Y-%m-%dT%H:%M:%S+00:00', created, 'unixepoch')
            ELSE strftime('%Y-%m-%dT%H:%M:%S+00:00', created + 5, 'unixepoch') END,
       CASE WHEN r < 15 THEN NULL ELSE strftime('%Y-%m-%dT%H:%M:%S+00:00', created + 65, 'unixepoch') END,
       strftime('%Y-%m-%dT%H:%M:%S+00:00', CASE WHEN r < 15 THEN created ELSE created + 65 END, 'unixepoch')
FROM runs;

INSERT INTO audit_logs (id, workspace_id, tenant_id, actor_id, actor_type, actor_name, actor_email, action,
                        status, metadata, recorded_at, created_at)
WITH RECURSIVE a(a) AS (SELECT 1 UNION ALL SELECT a + 1 FROM a WHERE a < 200000),
logs AS (SELECT a, ((a * 2654435761) >> 16) % 100 AS kind,
         strftime('%Y-%m-%dT%H:%M:%S+00:00', (SELECT now FROM clock) - 30 * 86400 + ((a - 1) * 2592000) / 200000, 'unixepoch') AS recorded
         FROM a)
SELECT a, CASE WHEN kind < 40 THEN NULL ELSE (a % 50) + 1 END, CASE WHEN kind < 60 THEN NULL ELSE (a % 5000) + 1 END,
       (a % 20) + 1, CASE WHEN kind < 40 THEN 'platform_user' ELSE 'user' END,
       'Actor ' || (a % 20), 'actor' || (a % 20) || '@ops.example',
       CASE WHEN kind < 30 THEN 'platform.auth.login' WHEN kind < 32 THEN 'platform.break_glass.enter'
            WHEN kind < 40 THEN 'platform.auth.logout' WHEN kind < 70 THEN 'tenant.settings.updated'
            ELSE 'provider_connection.checked' END,
       CASE WHEN kind < 30 AND a % 9 = 0 THEN 'failure' ELSE 'success' END, '{}',
       recorded, recorded
FROM logs;
COMMIT;
ANALYZE;
