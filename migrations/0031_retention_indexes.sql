-- 0031 Indexes the retention job (src/jobs/RowRetention.ts) deletes by: "rows older than T".
--
-- BRIN, not B-tree: these tables are appended in roughly time order, so a BRIN index (a few
-- pages per table) finds the old block ranges, and costs the ingest path almost nothing per
-- insert (new rows land in a block range not yet summarised; autovacuum summarises it).
-- dead_letters (received_at), job_runs (job, started_at) and gateway_stats_hourly (hour)
-- already have usable indexes. Built inside the migration transaction: on a large existing
-- table this holds off writes for the length of one sequential scan.
CREATE INDEX IF NOT EXISTS payment_authorized_event_time_brin ON payment_authorized USING brin (event_time);
CREATE INDEX IF NOT EXISTS request_blocked_event_time_brin ON request_blocked USING brin (event_time);
CREATE INDEX IF NOT EXISTS solvency_alerts_event_time_brin ON solvency_alerts USING brin (event_time);
CREATE INDEX IF NOT EXISTS payment_intents_archive_last_event_brin ON payment_intents_archive USING brin (last_event_time);
CREATE INDEX IF NOT EXISTS gateway_config_history_received_brin ON gateway_config_history USING brin (received_at);
-- The console's rollup tables are filled on demand (not in time order): B-tree.
CREATE INDEX IF NOT EXISTS console_rollup_days_day_idx ON console_rollup_days (day);
CREATE INDEX IF NOT EXISTS console_agent_daily_day_idx ON console_agent_daily (day);
CREATE INDEX IF NOT EXISTS console_revenue_hourly_hour_idx ON console_revenue_hourly (hour);
