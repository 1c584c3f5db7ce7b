-- 0036 Revenue per asset of a vendor's consumers window (0033), so GET /v1/vendor/stats over the
-- default range reads one row plus today's payments instead of the hourly revenue rollup of
-- every clean day. NULL in windows built before this migration: the console does not read such
-- a window, and the rollup job rebuilds it on its next run (src/jobs/RollupConsumers.ts).
ALTER TABLE console_consumer_windows
    ADD COLUMN IF NOT EXISTS revenue_assets   text[],     -- assets paid in the window, in byte order …
    ADD COLUMN IF NOT EXISTS revenue_amounts  numeric[],  -- … their amounts
    ADD COLUMN IF NOT EXISTS revenue_payments bigint[];   -- … and payment counts
