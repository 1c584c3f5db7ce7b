-- 0033 Per-vendor, per-agent totals over the console's default window (GET /v1/vendor/consumers
-- and the unique agents of /v1/vendor/stats without `from`: the last 30 UTC days, today included).
--
-- The daily agent rollup (console_agent_daily, 0022) is per gateway and day: the largest vendor's
-- 30 days are ~84k rows to merge and rank per request. These tables hold, per vendor, the
-- finished days of the default window [today − 29 days, today) already merged per agent, so a
-- request adds only today's raw payments and ranks through an index. Built and kept true by the
-- rollup job (src/jobs/RollupConsumers.ts): rebuilt when the day changes, and in the
-- transaction that deletes the claims of late payments in the window. The console reads a
-- vendor's window only while it is clean (src/console/RollupRepo.ts: same window, same
-- gateways, before the watermark, no dirty or claimed mark in it); otherwise it falls back to
-- the daily rollups and raw payments.

CREATE TABLE IF NOT EXISTS console_consumer_windows (
    vendor_id    text        NOT NULL,
    window_from  timestamptz NOT NULL,   -- UTC midnight
    window_to    timestamptz NOT NULL,   -- UTC midnight, window_from + 29 days
    gateways     text[]      NOT NULL,   -- the vendor's gateway ids when built, in byte order
    agents       int         NOT NULL,
    built_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT console_consumer_windows_pkey PRIMARY KEY (vendor_id)
);

CREATE TABLE IF NOT EXISTS console_consumer_totals (
    vendor_id      text COLLATE "C" NOT NULL,
    agent_id       text COLLATE "C" NOT NULL,   -- byte order: the console ranks agent ids in "C"
    payments       bigint      NOT NULL,
    amount         numeric     NOT NULL,        -- all assets (the `spend` sort)
    first_seen     timestamptz NOT NULL,
    last_seen      timestamptz NOT NULL,
    assets         text[]      NOT NULL,        -- per asset, in byte order …
    asset_amounts  numeric[]   NOT NULL,        -- … and its amount
    CONSTRAINT console_consumer_totals_pkey PRIMARY KEY (vendor_id, agent_id)
);

-- One index per consumers sort: a page is an index walk that stops after `limit` rows.
CREATE INDEX IF NOT EXISTS console_consumer_totals_spend_idx ON console_consumer_totals (vendor_id, amount DESC, agent_id DESC);
CREATE INDEX IF NOT EXISTS console_consumer_totals_payments_idx ON console_consumer_totals (vendor_id, payments DESC, agent_id DESC);
CREATE INDEX IF NOT EXISTS console_consumer_totals_last_seen_idx ON console_consumer_totals (vendor_id, last_seen DESC, agent_id DESC);
CREATE INDEX IF NOT EXISTS console_consumer_totals_first_seen_idx ON console_consumer_totals (vendor_id, first_seen DESC, agent_id DESC);
