-- 0004 Typed event tables (not partitioned; kept for the console's history).
-- seq gives a stable tie-breaker for (event_time, seq) cursor pagination.
-- No CHECK constraints beyond NOT NULL: the wire contract validates, and a DB rejection
-- would fail the whole batch insert instead of one event.

CREATE TABLE IF NOT EXISTS payment_authorized (
    seq          bigint         GENERATED ALWAYS AS IDENTITY,
    event_time   timestamptz    NOT NULL,
    received_at  timestamptz    NOT NULL,
    source       text           NOT NULL,
    event_id     text           NOT NULL,
    gateway_id   text           NOT NULL,
    agent_id     text           NOT NULL,
    payment_id   text           NOT NULL,
    request_id   text           NOT NULL,
    method       text           NOT NULL,
    route        text           NOT NULL,
    amount       numeric(38,18) NOT NULL,
    asset        text           NOT NULL,
    network      text           NOT NULL,
    payer        text,
    pay_to       text,
    scheme       text,
    CONSTRAINT payment_authorized_pkey PRIMARY KEY (source, event_id)
);

-- Vendor payments page (keyset on event_time, seq); INCLUDE makes vendor totals,
-- revenue per day and consumers (by time range) index-only scans.
CREATE INDEX IF NOT EXISTS payment_authorized_gateway_time_idx
    ON payment_authorized (gateway_id, event_time DESC, seq DESC) INCLUDE (agent_id, amount);
-- Agent activity (keyset); INCLUDE serves agent spending by gateway index-only.
CREATE INDEX IF NOT EXISTS payment_authorized_agent_time_idx
    ON payment_authorized (agent_id, event_time DESC, seq DESC) INCLUDE (gateway_id, amount);

CREATE TABLE IF NOT EXISTS request_blocked (
    seq          bigint      GENERATED ALWAYS AS IDENTITY,
    event_time   timestamptz NOT NULL,
    received_at  timestamptz NOT NULL,
    source       text        NOT NULL,
    event_id     text        NOT NULL,
    gateway_id   text        NOT NULL,
    agent_id     text,
    request_id   text        NOT NULL,
    method       text        NOT NULL,
    route        text        NOT NULL,
    reason       text        NOT NULL,
    severity     text        NOT NULL,
    detail       text,
    client_ip    text,       -- text, not inet: a malformed address must not fail the batch
    CONSTRAINT request_blocked_pkey PRIMARY KEY (source, event_id)
);

CREATE INDEX IF NOT EXISTS request_blocked_gateway_time_idx
    ON request_blocked (gateway_id, event_time DESC, seq DESC);
CREATE INDEX IF NOT EXISTS request_blocked_agent_time_idx
    ON request_blocked (agent_id, event_time DESC) WHERE agent_id IS NOT NULL;

CREATE TABLE IF NOT EXISTS solvency_alerts (
    seq          bigint         GENERATED ALWAYS AS IDENTITY,
    event_time   timestamptz    NOT NULL,
    received_at  timestamptz    NOT NULL,
    source       text           NOT NULL,
    event_id     text           NOT NULL,
    gateway_id   text           NOT NULL,
    agent_id     text           NOT NULL,
    kind         text           NOT NULL,
    severity     text           NOT NULL,
    asset        text           NOT NULL,
    network      text           NOT NULL,
    balance      numeric(38,18) NOT NULL,
    threshold    numeric(38,18) NOT NULL,
    required     numeric(38,18),
    message      text,
    CONSTRAINT solvency_alerts_pkey PRIMARY KEY (source, event_id)
);

CREATE INDEX IF NOT EXISTS solvency_alerts_gateway_time_idx
    ON solvency_alerts (gateway_id, event_time DESC, seq DESC);
CREATE INDEX IF NOT EXISTS solvency_alerts_agent_time_idx
    ON solvency_alerts (agent_id, event_time DESC, seq DESC);
