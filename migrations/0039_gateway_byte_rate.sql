-- 0039 A gateway's own byte rate (bytes of request bodies per second, after decompression),
-- beside its event rate. NULL = the server's INGEST_RATE_LIMIT_BYTES_PER_SEC.
ALTER TABLE gateways ADD COLUMN IF NOT EXISTS rate_limit_bytes_per_sec bigint CHECK (rate_limit_bytes_per_sec > 0);
