-- 0032 Console figures that are always true, sums that always fit, rejections by gateway.
--
-- 1. Sums are unconstrained numeric. One payment is numeric(38,18) (< 10^20), but two of
--    99999999999999999999 already overflow numeric(38,18): the hourly rollup would fail on
--    that hour forever, and a console rollup rebuild with it. Dropping the typmod of a
--    numeric column needs no table rewrite.
ALTER TABLE gateway_stats_hourly   ALTER COLUMN payment_amount TYPE numeric, ALTER COLUMN revenue TYPE numeric;
ALTER TABLE console_rollup_days    ALTER COLUMN amount TYPE numeric;
ALTER TABLE console_agent_daily    ALTER COLUMN amount TYPE numeric;
ALTER TABLE console_revenue_hourly ALTER COLUMN amount TYPE numeric;

-- 2. The console rollups are now built by the rollup job, in the transaction that clears the
--    day's dirty marks, and read only for days without marks (src/jobs/RollupConsole.ts,
--    src/console/RollupRepo.ts). Days built on demand by requests before this migration may
--    predate late payments that no mark points at any more: drop them; the job rebuilds them,
--    and until then the console reads those days from the payments themselves.
TRUNCATE console_rollup_days, console_agent_daily, console_revenue_hourly;

-- 3. GET /v1/vendor/rejections pages a gateway's dead letters newest first on (received_at, id).
CREATE INDEX IF NOT EXISTS dead_letters_gateway_page_idx ON dead_letters (gateway_id, received_at DESC, id DESC);
