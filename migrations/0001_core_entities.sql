-- 0001 Core entities: vendors, their gateways, agents, priced endpoints.
-- Tables written by the ingest path (event tables, config history) deliberately carry
-- no foreign keys: an FK check per row takes a KEY SHARE lock on the hot gateway row and
-- a failing check would fail a whole batch. The app authenticates the gateway instead.

CREATE TABLE IF NOT EXISTS vendors (
    id          text        PRIMARY KEY,
    name        text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- fillfactor leaves room for HOT updates of last_seen_at / version / config, which the
-- ingest path writes often (none of those columns is indexed).
CREATE TABLE IF NOT EXISTS gateways (
    id                  text        PRIMARY KEY,
    vendor_id           text        NOT NULL REFERENCES vendors (id),
    name                text        NOT NULL,
    ingest_key_hash     text        NOT NULL UNIQUE
                                    CHECK (ingest_key_hash ~ '^[0-9a-f]{64}$'),  -- lower-case hex sha-256
    ingest_key_prefix   text,
    signing_secret      text,
    rate_limit_per_sec  integer     CHECK (rate_limit_per_sec > 0),              -- NULL = server default
    config              jsonb,
    config_revision     text,
    config_updated_at   timestamptz,
    version             text,
    last_seen_at        timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    disabled_at         timestamptz,
    -- target of endpoints' composite FK (an endpoint's gateway must belong to its vendor)
    CONSTRAINT gateways_id_vendor_key UNIQUE (id, vendor_id)
) WITH (fillfactor = 80);

CREATE INDEX IF NOT EXISTS gateways_vendor_id_idx ON gateways (vendor_id);

CREATE TABLE IF NOT EXISTS gateway_config_history (
    gateway_id   text        NOT NULL,
    revision     text        NOT NULL,
    config       jsonb       NOT NULL,
    event_time   timestamptz NOT NULL,
    received_at  timestamptz NOT NULL,
    CONSTRAINT gateway_config_history_pkey PRIMARY KEY (gateway_id, revision)
);

CREATE TABLE IF NOT EXISTS agents (
    id              text        PRIMARY KEY,
    name            text,
    wallet_address  text,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS endpoints (
    id           bigint         GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    vendor_id    text           NOT NULL REFERENCES vendors (id) ON DELETE CASCADE,
    gateway_id   text,
    method       text           NOT NULL
                 CHECK (method IN ('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS')),
    path         text           NOT NULL CHECK (left(path, 1) = '/'),
    price        numeric(38,18) NOT NULL CHECK (price >= 0),
    asset        text           NOT NULL,
    description  text,
    active       boolean        NOT NULL DEFAULT true,
    created_at   timestamptz    NOT NULL DEFAULT now(),
    updated_at   timestamptz    NOT NULL DEFAULT now(),  -- set by the app on update (no trigger)
    CONSTRAINT endpoints_vendor_method_path_key UNIQUE (vendor_id, method, path),
    -- MATCH SIMPLE: unchecked while gateway_id is NULL; deleting the gateway only clears gateway_id
    CONSTRAINT endpoints_gateway_fkey FOREIGN KEY (gateway_id, vendor_id)
        REFERENCES gateways (id, vendor_id) ON DELETE SET NULL (gateway_id)
);

CREATE INDEX IF NOT EXISTS endpoints_gateway_id_idx ON endpoints (gateway_id) WHERE gateway_id IS NOT NULL;
