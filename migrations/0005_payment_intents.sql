-- 0005 Payment intents: current state, transition history, archive.
-- status only moves forward: status_rank pending 0 < submitted 1 < settled|failed|expired 2.
-- Intent ids are unique per gateway, so the key is (gateway_id, intent_id): one gateway can
-- never move another gateway's intent. The app upserts with ON CONFLICT (gateway_id,
-- intent_id) DO UPDATE ... WHERE payment_intents.status_rank < EXCLUDED.status_rank
-- (stale / out-of-order events are recorded in payment_intent_transitions, applied = false).

CREATE TABLE IF NOT EXISTS payment_intents (
    intent_id        text           NOT NULL,
    gateway_id       text           NOT NULL,
    agent_id         text           NOT NULL,
    status           text           NOT NULL
                     CHECK (status IN ('pending', 'submitted', 'settled', 'failed', 'expired')),
    status_rank      smallint       NOT NULL,
    amount           numeric(38,18) NOT NULL,
    asset            text           NOT NULL,
    network          text           NOT NULL,
    method           text,
    route            text,
    tx_hash          text,
    failure_reason   text,
    expires_at       timestamptz,
    created_at       timestamptz    NOT NULL,  -- event_time of the first event seen
    updated_at       timestamptz    NOT NULL,  -- event_time of the event that set status
    last_event_time  timestamptz    NOT NULL,  -- newest event_time seen (applied or not)
    received_at      timestamptz    NOT NULL,
    CONSTRAINT payment_intents_pkey PRIMARY KEY (gateway_id, intent_id),
    CONSTRAINT payment_intents_status_rank_check CHECK (status_rank =
        CASE status WHEN 'pending' THEN 0 WHEN 'submitted' THEN 1 ELSE 2 END)
);

CREATE INDEX IF NOT EXISTS payment_intents_gateway_updated_idx ON payment_intents (gateway_id, updated_at DESC);
CREATE INDEX IF NOT EXISTS payment_intents_agent_updated_idx   ON payment_intents (agent_id, updated_at DESC);
CREATE INDEX IF NOT EXISTS payment_intents_status_updated_idx  ON payment_intents (status, updated_at);
CREATE INDEX IF NOT EXISTS payment_intents_created_idx         ON payment_intents (created_at);

CREATE TABLE IF NOT EXISTS payment_intent_transitions (
    seq          bigint      GENERATED ALWAYS AS IDENTITY,
    gateway_id   text        NOT NULL,
    intent_id    text        NOT NULL,
    source       text        NOT NULL,
    event_id     text        NOT NULL,
    event_time   timestamptz NOT NULL,
    received_at  timestamptz NOT NULL,
    from_status  text,
    to_status    text        NOT NULL,
    applied      boolean     NOT NULL,
    CONSTRAINT payment_intent_transitions_pkey PRIMARY KEY (source, event_id)
);

CREATE INDEX IF NOT EXISTS payment_intent_transitions_intent_time_idx
    ON payment_intent_transitions (gateway_id, intent_id, event_time);

-- Intents older than the retention (1 year) are moved here with their transitions folded
-- into history (jsonb array, oldest first); their transition rows are then deleted.
CREATE TABLE IF NOT EXISTS payment_intents_archive (
    intent_id        text           NOT NULL,
    gateway_id       text           NOT NULL,
    agent_id         text           NOT NULL,
    status           text           NOT NULL,
    status_rank      smallint       NOT NULL,
    amount           numeric(38,18) NOT NULL,
    asset            text           NOT NULL,
    network          text           NOT NULL,
    method           text,
    route            text,
    tx_hash          text,
    failure_reason   text,
    expires_at       timestamptz,
    created_at       timestamptz    NOT NULL,
    updated_at       timestamptz    NOT NULL,
    last_event_time  timestamptz    NOT NULL,
    received_at      timestamptz    NOT NULL,
    history          jsonb          NOT NULL DEFAULT '[]'::jsonb,
    archived_at      timestamptz    NOT NULL DEFAULT now(),
    CONSTRAINT payment_intents_archive_pkey PRIMARY KEY (gateway_id, intent_id)
);
