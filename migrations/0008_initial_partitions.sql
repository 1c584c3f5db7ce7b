-- 0008 Partitions for [today - 2, today + 7] (UTC days) so a fresh database takes events
-- at once. Idempotent; afterwards the partition job keeps 7 days ahead.

SELECT ensure_daily_partitions('telemetry_events',
                               (now() AT TIME ZONE 'UTC')::date - 2,
                               (now() AT TIME ZONE 'UTC')::date + 7);
SELECT ensure_daily_partitions('gateway_telemetry',
                               (now() AT TIME ZONE 'UTC')::date - 2,
                               (now() AT TIME ZONE 'UTC')::date + 7);
