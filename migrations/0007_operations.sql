-- 0007 Operational tables: dead letters (rejected events are kept, never dropped) and
-- the log of scheduled job runs.

CREATE TABLE IF NOT EXISTS dead_letters (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at    timestamptz NOT NULL DEFAULT now(),
    gateway_id     text,
    source         text,
    event_id       text,
    type           text,
    reason         text        NOT NULL,
    field          text,
    payload        text        NOT NULL,  -- truncated by the app to a bounded size
    payload_bytes  integer     NOT NULL   -- size of the original payload, before truncation
);

CREATE INDEX IF NOT EXISTS dead_letters_received_idx         ON dead_letters (received_at);
CREATE INDEX IF NOT EXISTS dead_letters_gateway_received_idx ON dead_letters (gateway_id, received_at);

CREATE TABLE IF NOT EXISTS job_runs (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job          text        NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    status       text        NOT NULL DEFAULT 'running',  -- free text chosen by the job runner
    details      jsonb
);

CREATE INDEX IF NOT EXISTS job_runs_job_started_idx ON job_runs (job, started_at DESC);
