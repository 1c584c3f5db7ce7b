-- 0037 Blocked requests of a vendor's consumers window (0033), so GET /v1/vendor/stats over the
-- default range adds today's blocked requests to one stored count instead of counting the
-- largest vendor's ~35k rows of the last 30 days per request (~10 ms of its ~30 ms).
--
-- Kept true like the rest of the window: a late blocked request marks its hour dirty
-- (src/ingest/EventStorePg.ts), the console does not read a window with a dirty hour, and the
-- rollup job rebuilds it. NULL when the window was built before this migration (rebuilt by the
-- job) or while RETENTION_BLOCKED_DAYS is shorter than the window (retention would delete rows
-- the count still holds): the console then counts the rows of the range itself.
ALTER TABLE console_consumer_windows ADD COLUMN IF NOT EXISTS blocked bigint;
