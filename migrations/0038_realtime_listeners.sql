-- 0038 Which api processes listen for other processes' committed events (src/realtime/Presence.ts).
--
-- A receiver sends pg_notify only while another process's row here is fresh: a deployment with
-- one process (all roles) or without api processes skips the notifications nobody reads. An api
-- process writes its row once its LISTEN connection is up, refreshes it every few seconds, and
-- deletes it when its LISTEN session ends.
CREATE TABLE IF NOT EXISTS realtime_listeners (
  instance_id text PRIMARY KEY,
  seen_at     timestamptz NOT NULL DEFAULT now()
);
