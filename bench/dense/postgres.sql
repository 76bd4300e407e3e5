-- The dense profile (issue #26), by plain SQL, into a freshly migrated, empty database:
--   psql -X -v runs=10000000 -f bench/dense/postgres.sql "$URL"
-- 50 workspaces, 5,000 tenants (all `active`), runs spread evenly over the 30 days up to
-- now, dealt to the tenants in turn so that, from 3.6M runs up, every tenant has runs in
-- every hour; 2 % without a tenant; 1.5 % never finished (half `queued`, half `running`
-- since their creation, so all of them stuck); 10 % of the finished ones failed;
-- 200,000 audit logs. Ids are given, not drawn from the sequences, which are moved past
-- them at the end. Pseudo-random choices come from multiplicative hashes of the id, so
-- the data are the same at every load.
\set ON_ERROR_STOP on
\timing on

INSERT INTO workspaces (id, name, slug, created_at, updated_at)
SELECT w, 'Dense workspace ' || lpad(w::text, 2, '0'), 'dense-' || w, now() - interval '400 days', now() - interval '400 days'
FROM generate_series(1, 50) AS w;

INSERT INTO tenants (id, external_id, name, workspace_id, status, environment, rbac_last_checked_at,
                     rbac_last_setup_at, rbac_canary_results, rbac_last_warnings, metadata, created_at, updated_at)
SELECT t, 'dense-' || t, 'Dense tenant ' || lpad(t::text, 4, '0'), (t - 1) / 100 + 1, 'active',
       CASE WHEN t % 5 = 0 THEN 'staging' ELSE 'production' END,
       now() - interval '2 hours', now() - interval '90 days', '{}'::jsonb, '[]'::jsonb, '{}'::jsonb,
       now() - interval '365 days', now() - interval '1 day'
FROM generate_series(1, 5000) AS t;

-- One connection per tenant, a second (Google) for every fourth; mostly healthy.
INSERT INTO provider_connections (id, tenant_id, provider, is_default, status, health_status, scopes_granted,
                                  last_health_check_at, metadata, created_at, updated_at)
SELECT c, t, CASE WHEN c > 5000 THEN 'google' ELSE 'microsoft' END, c <= 5000,
       CASE WHEN (t * 37) % 100 < 3 THEN 'error' WHEN (t * 37) % 100 < 8 THEN 'needs_consent' ELSE 'connected' END,
       CASE WHEN (t * 53) % 100 < 5 THEN 'degraded' WHEN (t * 53) % 100 < 7 THEN 'down' ELSE 'ok' END,
       '["User.Read"]'::jsonb, now() - ((t % 30) || ' hours')::interval, '{}'::jsonb,
       now() - interval '300 days', now() - interval '1 hour'
FROM (SELECT c, CASE WHEN c > 5000 THEN (c - 5000) * 4 ELSE c END AS t FROM generate_series(1, 6250) AS c) AS pairs;

-- Six permissions per tenant: 2 % missing, 3 % in error, the rest granted and checked.
INSERT INTO tenant_permissions (id, tenant_id, key, status, details, last_checked_at, created_at, updated_at)
SELECT (t - 1) * 6 + k, t, (ARRAY['User.Read.All', 'Group.Read.All', 'Directory.Read.All', 'Policy.Read.All',
                                  'AuditLog.Read.All', 'Reports.Read.All'])[k],
       CASE WHEN ((t * 6 + k) * 2654435761 >> 16) % 100 < 2 THEN 'missing'
            WHEN ((t * 6 + k) * 2654435761 >> 16) % 100 < 5 THEN 'error' ELSE 'granted' END,
       '{}'::jsonb, now() - interval '3 hours', now() - interval '300 days', now() - interval '3 hours'
FROM generate_series(1, 5000) AS t, generate_series(1, 6) AS k;

-- The runs. r: the 1.5 % unfinished (0–14 of 1000); o: the outcome of the others.
INSERT INTO operation_runs (id, workspace_id, tenant_id, user_id, initiator_name, type, status, outcome,
                            summary_counts, failure_summary, context, created_at, started_at, completed_at, updated_at)
SELECT i, CASE WHEN orphan THEN (i % 50) + 1 ELSE (tenant - 1) / 100 + 1 END,
       CASE WHEN orphan THEN NULL ELSE tenant END, NULL, 'scheduler',
       (ARRAY['inventory.sync', 'policy.apply', 'report.export', 'backup.verify', 'license.audit',
              'mailbox.scan', 'device.sync', 'user.provision', 'group.sync', 'secure_score.fetch',
              'alert.triage', 'baseline.compare'])[((i * 3266489917) >> 20) % 12 + 1],
       CASE WHEN r < 8 THEN 'queued' WHEN r < 15 THEN 'running' ELSE 'completed' END,
       CASE WHEN r < 15 THEN 'pending' WHEN o < 10 THEN 'failed' WHEN o < 17 THEN 'partially_succeeded'
            WHEN o < 22 THEN 'canceled' ELSE 'succeeded' END,
       '{}'::jsonb, '[]'::jsonb, '{}'::jsonb, created,
       CASE WHEN r < 8 THEN NULL WHEN r < 15 THEN created ELSE created + interval '5 seconds' END,
       CASE WHEN r < 15 THEN NULL ELSE created + interval '65 seconds' END,
       CASE WHEN r < 15 THEN created ELSE created + interval '65 seconds' END
FROM (
  SELECT i, ((i - 1) % 5000) + 1 AS tenant, ((i * 2246822519) >> 18) % 50 = 0 AS orphan,
         ((i * 2654435761) >> 16) % 1000 AS r, ((i * 2246822519) >> 22) % 100 AS o,
         date_trunc('second', now()) - interval '30 days' + (i - 1) * (interval '30 days' / :runs) AS created
  FROM generate_series(1, :runs::bigint) AS i
) AS runs;

INSERT INTO audit_logs (id, workspace_id, tenant_id, actor_id, actor_type, actor_name, actor_email, action,
                        status, metadata, recorded_at, created_at)
SELECT a, CASE WHEN kind < 40 THEN NULL ELSE (a % 50) + 1 END, CASE WHEN kind < 60 THEN NULL ELSE (a % 5000) + 1 END,
       (a % 20) + 1, CASE WHEN kind < 40 THEN 'platform_user' ELSE 'user' END,
       'Actor ' || (a % 20), 'actor' || (a % 20) || '@ops.example',
       CASE WHEN kind < 30 THEN 'platform.auth.login' WHEN kind < 32 THEN 'platform.break_glass.enter'
            WHEN kind < 40 THEN 'platform.auth.logout' WHEN kind < 70 THEN 'tenant.settings.updated'
            ELSE 'provider_connection.checked' END,
       CASE WHEN kind < 30 AND a % 9 = 0 THEN 'failure' ELSE 'success' END, '{}'::jsonb,
       recorded, recorded
FROM (SELECT a, date_trunc('second', now()) - interval '30 days' + (a - 1) * (interval '30 days' / 200000) AS recorded, ((a * 2654435761) >> 16) % 100 AS kind FROM generate_series(1, 200000) AS a) AS logs;

SELECT setval(pg_get_serial_sequence('workspaces', 'id'), 50);
SELECT setval(pg_get_serial_sequence('tenants', 'id'), 5000);
SELECT setval(pg_get_serial_sequence('provider_connections', 'id'), 6250);
SELECT setval(pg_get_serial_sequence('tenant_permissions', 'id'), 30000);
SELECT setval(pg_get_serial_sequence('operation_runs', 'id'), :runs::bigint);
SELECT setval(pg_get_serial_sequence('audit_logs', 'id'), 200000);
ANALYZE;
