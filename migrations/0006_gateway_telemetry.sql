-- 0006 60-second gateway telemetry packets (partitioned by day on window_start) and the
-- hourly rollup built from them (+ payment_authorized), with its bookkeeping tables.

CREATE TABLE IF NOT EXISTS gateway_telemetry (
    window_start      timestamptz      NOT NULL,
    gateway_id        text             NOT NULL,
    source            text             NOT NULL,
    event_id          text             NOT NULL,
    received_at       timestamptz      NOT NULL,
    window_seconds    integer          NOT NULL,
    gateway_version   text,
    requests_total    bigint           NOT NULL DEFAULT 0,
    requests_paid     bigint           NOT NULL DEFAULT 0,
    requests_blocked  bigint           NOT NULL DEFAULT 0,
    requests_error    bigint           NOT NULL DEFAULT 0,
    payments_count    bigint           NOT NULL DEFAULT 0,
    unique_agents     bigint           NOT NULL DEFAULT 0,
    revenue           numeric(38,18)   NOT NULL DEFAULT 0,
    asset             text,              -- NULL allowed: an idle window may carry no asset
    latency_p50_ms    double precision,  -- NULL allowed: no requests, no percentiles
    latency_p90_ms    double precision,
    latency_p95_ms    double precision,
    latency_p99_ms    double precision,
    latency_max_ms    double precision,
    routes            jsonb            NOT NULL,
    config            jsonb,
    CONSTRAINT gateway_telemetry_pkey PRIMARY KEY (source, event_id, window_start)
) PARTITION BY RANGE (window_start);

CREATE INDEX IF NOT EXISTS gateway_telemetry_gateway_window_idx ON gateway_telemetry (gateway_id, window_start DESC);

CREATE TABLE IF NOT EXISTS gateway_telemetry_default PARTITION OF gateway_telemetry DEFAULT;

-- One row per gateway and UTC hour. Latency is approximate (percentiles do not compose):
--   latency_p50_ms = avg of packet p50 weighted by packet requests_total,
--   latency_p99_ms = max of packet p99 (an upper bound of the true hourly p99),
--   latency_max_ms = max of packet max (exact).
-- payment_amount / payment_count come from payment_authorized for the same hour (exact),
-- revenue / payments_count from the packets (what the gateway reported).
CREATE TABLE IF NOT EXISTS gateway_stats_hourly (
    gateway_id        text             NOT NULL,
    hour              timestamptz      NOT NULL,  -- date_trunc('hour', t, 'UTC')
    packets           integer          NOT NULL DEFAULT 0,
    requests_total    bigint           NOT NULL DEFAULT 0,
    requests_paid     bigint           NOT NULL DEFAULT 0,
    requests_blocked  bigint           NOT NULL DEFAULT 0,
    requests_error    bigint           NOT NULL DEFAULT 0,
    payments_count    bigint           NOT NULL DEFAULT 0,
    revenue           numeric(38,18)   NOT NULL DEFAULT 0,
    asset             text,
    latency_p50_ms    double precision,
    latency_p99_ms    double precision,
    latency_max_ms    double precision,
    payment_amount    numeric(38,18)   NOT NULL DEFAULT 0,
    payment_count     bigint           NOT NULL DEFAULT 0,
    computed_at       timestamptz      NOT NULL DEFAULT now(),
    CONSTRAINT gateway_stats_hourly_pkey PRIMARY KEY (gateway_id, hour)
);

-- Fleet-wide hour ranges (admin overview, retention checks).
CREATE INDEX IF NOT EXISTS gateway_stats_hourly_hour_idx ON gateway_stats_hourly (hour);

-- Buckets below the watermark touched by late data; the rollup job recomputes and deletes them.
CREATE TABLE IF NOT EXISTS rollup_dirty (
    gateway_id  text        NOT NULL,
    hour        timestamptz NOT NULL,
    marked_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT rollup_dirty_pkey PRIMARY KEY (gateway_id, hour)
);

-- Per job: rollups are complete for every hour < watermark (NULL = nothing rolled up yet).
-- Retention must not drop raw/telemetry partitions at or after the watermark.
CREATE TABLE IF NOT EXISTS rollup_state (
    job         text        PRIMARY KEY,
    watermark   timestamptz,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
