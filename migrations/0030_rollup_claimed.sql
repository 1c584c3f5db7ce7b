-- 0030 Dirty marks the rollup job has taken and not yet recomputed.
--
-- The ingest writer adds marks with INSERT ... ON CONFLICT DO NOTHING, so a mark that already
-- exists is not touched by new late data. The job therefore moves marks out of rollup_dirty
-- before recomputing (new data then makes a new mark, which survives), and keeps them here
-- until the recomputation commits: a worker that dies in between leaves its claims behind,
-- and the next run recomputes them. Rows are deleted in the transaction that upserts the
-- buckets into gateway_stats_hourly.
CREATE TABLE IF NOT EXISTS rollup_claimed (
    gateway_id  text        NOT NULL,
    hour        timestamptz NOT NULL,
    marked_at   timestamptz NOT NULL,
    claimed_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT rollup_claimed_pkey PRIMARY KEY (gateway_id, hour)
);
