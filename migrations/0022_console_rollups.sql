-- 0022 Console rollups of payment_authorized, per gateway and UTC day, filled by the console
-- itself when a request needs a day (src/console/RollupRepo.ts). They exist so a large
-- vendor's 30-day figures do not re-read every payment:
--   console_agent_daily     per (gateway, day, agent, asset): consumers, unique agents
--   console_revenue_hourly  per (gateway, hour, asset): revenue per asset, revenue history
--   console_rollup_days     per (gateway, day): the payment count and amount the two were
--                           built from — compared with gateway_stats_hourly (kept exact by the
--                           rollup job, late data included) to know whether they are current.
-- Only days before the hourly rollup's watermark are rolled up; the rest is read raw.

CREATE TABLE IF NOT EXISTS console_rollup_days (
    gateway_id   text           NOT NULL,
    day          timestamptz    NOT NULL,   -- UTC midnight
    payments     bigint         NOT NULL,
    amount       numeric(38,18) NOT NULL,
    computed_at  timestamptz    NOT NULL DEFAULT now(),
    CONSTRAINT console_rollup_days_pkey PRIMARY KEY (gateway_id, day)
);

CREATE TABLE IF NOT EXISTS console_agent_daily (
    gateway_id   text           NOT NULL,
    day          timestamptz    NOT NULL,
    agent_id     text           NOT NULL,
    asset        text           NOT NULL,
    payments     bigint         NOT NULL,
    amount       numeric(38,18) NOT NULL,
    first_seen   timestamptz    NOT NULL,
    last_seen    timestamptz    NOT NULL,
    CONSTRAINT console_agent_daily_pkey PRIMARY KEY (gateway_id, day, agent_id, asset)
);

CREATE TABLE IF NOT EXISTS console_revenue_hourly (
    gateway_id   text           NOT NULL,
    hour         timestamptz    NOT NULL,
    asset        text           NOT NULL,
    payments     bigint         NOT NULL,
    amount       numeric(38,18) NOT NULL,
    CONSTRAINT console_revenue_hourly_pkey PRIMARY KEY (gateway_id, hour, asset)
);

-- Vendor traffic over a range (stats, metrics) and the freshness check above read a
-- gateway's hourly rows over a range: index-only with these columns (a 30-day range is 720
-- rows per gateway, scattered over the heap as the job appends every gateway each hour).
CREATE INDEX IF NOT EXISTS console_stats_hourly_idx
    ON gateway_stats_hourly (gateway_id, hour)
    INCLUDE (payment_count, payment_amount, requests_total, requests_paid, requests_blocked, requests_error,
             latency_p50_ms, latency_p99_ms, latency_max_ms);
