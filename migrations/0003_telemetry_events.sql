-- 0003 Raw log of every accepted event, partitioned by day on event_time.
-- A retried event (same source + id + event_time) hits the primary key: a duplicate.
-- Partitions are made by create_daily_partition / ensure_daily_partitions (0002, 0008).

CREATE TABLE IF NOT EXISTS telemetry_events (
    event_time   timestamptz NOT NULL,
    source       text        NOT NULL,
    id           text        NOT NULL,
    type         text        NOT NULL,
    gateway_id   text,
    subject      text,
    received_at  timestamptz NOT NULL,
    attributes   jsonb       NOT NULL DEFAULT '{}'::jsonb,  -- envelope attributes except data
    data         jsonb,
    CONSTRAINT telemetry_events_pkey PRIMARY KEY (source, id, event_time)
) PARTITION BY RANGE (event_time);

CREATE INDEX IF NOT EXISTS telemetry_events_gateway_time_idx ON telemetry_events (gateway_id, event_time DESC);
CREATE INDEX IF NOT EXISTS telemetry_events_type_time_idx    ON telemetry_events (type, event_time DESC);

-- Safety net for events outside every daily partition (far past/future, or a missed
-- partition run). The app warns when rows land here; create_daily_partition moves them
-- into the day's partition when that partition is created later.
CREATE TABLE IF NOT EXISTS telemetry_events_default PARTITION OF telemetry_events DEFAULT;
