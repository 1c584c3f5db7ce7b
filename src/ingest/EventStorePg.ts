/**
 * PostgreSQL event store. Each flush is ONE statement: the batch travels as one JSON parameter,
 * `jsonb_to_recordset` turns it into rows, and data-modifying CTEs write the typed table, the
 * raw log and the rollup dirty marks together — atomic without BEGIN/COMMIT round trips.
 *
 * Duplicates: the typed tables are keyed by (source, event_id) alone, so the typed insert
 * (`ON CONFLICT DO NOTHING … RETURNING`) decides what is new, and only new events reach the
 * raw log (whose key must include its partition column). Raw-only events are checked against
 * the log by (source, id). Intents need their current state, so they take a short transaction.
 *
 * Lock order: rows that several flushes may touch (dirty marks, gateways) are written sorted,
 * and the last-seen update skips rows another process holds, so flushes cannot deadlock.
 *
 * Statements are prepared text (`sql.unsafe`) run through the `SqlClient`, so each is traced
 * and pooled like every other query; failures are classified by SQLSTATE (`storeErrorOf`).
 */
import { SqlClient, SqlError } from "@effect/sql"
import { Effect, Layer, Option } from "effect"
import { DEFAULT_WINDOW_SECONDS } from "../../schema/index.js"
import { EventStore, StoreError, storeErrorOf } from "./EventStore.js"
import type { IngestEvent, Route } from "./IngestEvent.js"
import { encodedRow, eventKey } from "./IngestEvent.js"
import { foldIntents, type IntentEvent, type IntentRow, intentKey } from "./IntentStateMachine.js"
import { storableText } from "./Text.js"

const RAW_COLUMNS = `event_time timestamptz, source text, id text, type text, gateway_id text, subject text,
  received_at timestamptz, attributes jsonb, data jsonb`

const RAW_INSERT = `INSERT INTO telemetry_events (event_time, source, id, type, gateway_id, subject, received_at, attributes, data)
    SELECT i.event_time, i.source, i.id, i.type, i.gateway_id, i.subject, i.received_at, i.attributes, i.data FROM input i`

/** Only the typed insert's new rows go to the raw log. */
const rawOfTyped = `${RAW_INSERT}
      JOIN typed t ON t.source = i.source AND t.event_id = i.id
    ON CONFLICT DO NOTHING`

/** Marks closed hours touched by late rows so the rollup job recomputes them. */
const dirtyMarks = (timeColumn: string) => `dirty AS (
    INSERT INTO rollup_dirty (gateway_id, hour)
    SELECT DISTINCT i.gateway_id, date_trunc('hour', i.${timeColumn}, 'UTC') FROM input i
      JOIN typed t ON t.source = i.source AND t.event_id = i.id
     WHERE i.${timeColumn} < date_trunc('hour', now(), 'UTC')
     ORDER BY 1, 2
    ON CONFLICT DO NOTHING)`

/**
 * A typed column and how it is read from the validated `data` (jsonb) of the row: the batch
 * carries each event once, as sent, and PostgreSQL takes the typed values out of it.
 */
type Column = readonly [name: string, expression: string | undefined]
/** A column of the row itself (already in `x.*`). */
const own = (name: string): Column => [name, undefined]
const text = (name: string): Column => [name, `x.data->>'${name}'`]
const cast = (name: string, type: string, path = `x.data->>'${name}'`): Column => [name, `(${path})::${type}`]
const json = (name: string): Column => [name, `x.data->'${name}'`]
const latency = (name: string, key: string): Column => cast(name, "float8", `x.data->'latency_ms'->>'${key}'`)

const typedStatement = (table: string, columns: ReadonlyArray<Column>, extra = "") => `
  WITH input AS MATERIALIZED (
    SELECT x.*, ${columns.flatMap(([name, expression]) => (expression === undefined ? [] : [`${expression} AS ${name}`])).join(", ")}
      FROM jsonb_to_recordset($1::jsonb) AS x(${RAW_COLUMNS})),
  typed AS (
    INSERT INTO ${table} (source, event_id, received_at, gateway_id, ${columns.map(([name]) => name).join(", ")})
    SELECT i.source, i.id, i.received_at, i.gateway_id, ${columns.map(([name]) => `i.${name}`).join(", ")} FROM input i
    ON CONFLICT DO NOTHING RETURNING source, event_id),
  raw AS (${rawOfTyped})${extra}
  SELECT source, event_id AS id FROM typed`

const eventTime = own("event_time")

const PAYMENT: ReadonlyArray<Column> = [
  eventTime, text("agent_id"), text("payment_id"), text("request_id"), text("method"), text("route"),
  cast("amount", "numeric"), text("asset"), text("network"), text("payer"), text("pay_to"), text("scheme")
]
const BLOCKED: ReadonlyArray<Column> = [
  eventTime, text("agent_id"), text("request_id"), text("method"), text("route"), text("reason"), text("severity"),
  text("detail"), text("client_ip")
]
const SOLVENCY: ReadonlyArray<Column> = [
  eventTime, text("agent_id"), text("kind"), text("severity"), text("asset"), text("network"), cast("balance", "numeric"),
  cast("threshold", "numeric"), cast("required", "numeric"), text("message")
]
const TELEMETRY: ReadonlyArray<Column> = [
  cast("window_start", "timestamptz"),
  ["window_seconds", `COALESCE((x.data->>'window_seconds')::integer, ${DEFAULT_WINDOW_SECONDS})`],
  text("gateway_version"), cast("requests_total", "bigint"), cast("requests_paid", "bigint"),
  cast("requests_blocked", "bigint"), cast("requests_error", "bigint"), cast("payments_count", "bigint"),
  cast("unique_agents", "bigint"), cast("revenue", "numeric"), text("asset"), latency("latency_p50_ms", "p50"),
  latency("latency_p90_ms", "p90"), latency("latency_p95_ms", "p95"), latency("latency_p99_ms", "p99"),
  latency("latency_max_ms", "max"), json("routes"), json("config")
]

const STATEMENTS: Record<Exclude<Route, "PaymentIntent" | "Other">, string> = {
  PaymentAuthorized: typedStatement("payment_authorized", PAYMENT, `,\n  ${dirtyMarks("event_time")}`),
  // Late blocked requests mark their hour too: a console window stores the blocked count of its
  // days (migration 0037) and is not read while one of its hours is marked.
  RequestBlocked: typedStatement("request_blocked", BLOCKED, `,\n  ${dirtyMarks("event_time")}`),
  SolvencyAlert: typedStatement("solvency_alerts", SOLVENCY),
  GatewayTelemetryPacket: typedStatement(
    "gateway_telemetry",
    TELEMETRY,
    `,
  ${dirtyMarks("window_start")},
  configs AS (
    SELECT DISTINCT ON (i.gateway_id) i.gateway_id, i.config, i.event_time, i.received_at FROM input i
      JOIN typed t ON t.source = i.source AND t.event_id = i.id
     WHERE i.config IS NOT NULL ORDER BY i.gateway_id, i.window_start DESC),
  history AS (
    INSERT INTO gateway_config_history (gateway_id, revision, config, event_time, received_at)
    SELECT DISTINCT ON (i.gateway_id, i.config->>'revision') i.gateway_id, i.config->>'revision', i.config, i.event_time,
           i.received_at
      FROM input i JOIN typed t ON t.source = i.source AND t.event_id = i.id
     WHERE i.config IS NOT NULL ORDER BY i.gateway_id, i.config->>'revision', i.event_time
    ON CONFLICT DO NOTHING),
  current_config AS (
    UPDATE gateways g SET config = c.config->'settings', config_revision = c.config->>'revision',
           config_updated_at = c.event_time
      FROM configs c
     WHERE g.id = c.gateway_id AND (g.config_updated_at IS NULL OR g.config_updated_at <= c.event_time))`
  )
}

/** The batch parameter: the events' rows (encoded at admission when given) as one JSON array. */
const rowsOf = (events: ReadonlyArray<IngestEvent>, rows?: ReadonlyArray<string>): string =>
  `[${(rows ?? events.map(encodedRow)).join(",")}]`

/** Raw-only events: the log's key includes the time, so look for the same source + id first. */
const RAW_ONLY = `WITH input AS MATERIALIZED (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(${RAW_COLUMNS}))
  ${RAW_INSERT}
   WHERE NOT EXISTS (SELECT 1 FROM telemetry_events t WHERE t.source = i.source AND t.id = i.id)
  ON CONFLICT DO NOTHING RETURNING source, id`

/** The database's own error (SQLSTATE, socket error) decides the class, not the client's wrapper. */
const storeFailure = (error: SqlError.SqlError) => storeErrorOf(error.cause)

const query = <R extends object>(sql: SqlClient.SqlClient, text: string, values: ReadonlyArray<unknown>) =>
  sql.unsafe<R>(text, values).pipe(Effect.mapError(storeFailure))

/**
 * `@effect/sql` turns a failed COMMIT or ROLLBACK into a defect (`Effect.orDie`). When the
 * database goes away mid-transaction that is an outage, not a bug: it is classified like any
 * other failure (so the writer retries rather than dead-lettering the batch). A retry after a
 * COMMIT that did land finds the rows already there (the keys make writes idempotent).
 */
export const sqlDefectsAsFailures = <A, R>(effect: Effect.Effect<A, StoreError, R>): Effect.Effect<A, StoreError, R> =>
  Effect.catchSomeDefect(effect, (defect) =>
    defect instanceof SqlError.SqlError ? Option.some(Effect.fail(storeFailure(defect))) : Option.none())

// Dead letters hold whatever was sent; text PostgreSQL cannot store is made visible instead.
const nullableText = (text: string | undefined) => (text === undefined ? null : storableText(text))

const keysOf = (rows: ReadonlyArray<{ source: string; id: string }>) => new Set(rows.map(eventKey))

const INTENT_COLUMNS = `gateway_id text, intent_id text, agent_id text, status text, status_rank smallint, amount numeric,
  asset text, network text, method text, route text, tx_hash text, failure_reason text, expires_at timestamptz,
  created_at timestamptz, updated_at timestamptz, last_event_time timestamptz, received_at timestamptz`
const INTENT_NAMES = INTENT_COLUMNS.split(",").map((c) => c.trim().split(" ")[0] ?? "")

/** $1: the transitions (one per fresh event), inserted unless already there. */
const INSERT_TRANSITIONS_SQL = `INSERT INTO payment_intent_transitions
  (gateway_id, intent_id, source, event_id, event_time, received_at, from_status, to_status, applied)
  SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(gateway_id text, intent_id text, source text, event_id text,
    event_time timestamptz, received_at timestamptz, from_status text, to_status text, applied boolean)
  ON CONFLICT DO NOTHING RETURNING source, event_id AS id`

/**
 * $3: the intents' rows after the fold. The guard keeps status forward-only even if another
 * process inserted the intent meanwhile.
 */
const UPSERT_INTENTS_SQL = `INSERT INTO payment_intents (${INTENT_NAMES.join(", ")})
  SELECT * FROM jsonb_to_recordset($3::jsonb) AS x(${INTENT_COLUMNS}) ORDER BY gateway_id, intent_id
  ON CONFLICT (gateway_id, intent_id) DO UPDATE SET
    ${INTENT_NAMES.filter((n) => n !== "gateway_id" && n !== "intent_id").map((n) => `${n} = EXCLUDED.${n}`).join(", ")}
  WHERE payment_intents.status_rank <= EXCLUDED.status_rank`

/**
 * One read for an intent flush: the transitions already recorded (`kind` = 'seen': duplicates)
 * and the current rows of the batch's intents, locked until the write commits (`kind` = 'current').
 */
const INTENT_READ = `WITH locked AS (
    SELECT gateway_id, intent_id, agent_id, status, status_rank, amount::text AS amount, asset, network, method, route,
           tx_hash, failure_reason, expires_at, created_at, updated_at, last_event_time, received_at
      FROM payment_intents WHERE (gateway_id, intent_id) IN (SELECT k->>0, k->>1 FROM jsonb_array_elements($2::jsonb) k)
     ORDER BY gateway_id, intent_id FOR UPDATE)
  SELECT 'seen' AS kind, source, event_id AS id, NULL AS gateway_id, NULL AS intent_id, NULL AS agent_id, NULL AS status,
         NULL::smallint AS status_rank, NULL AS amount, NULL AS asset, NULL AS network, NULL AS method, NULL AS route,
         NULL AS tx_hash, NULL AS failure_reason, NULL::timestamptz AS expires_at, NULL::timestamptz AS created_at,
         NULL::timestamptz AS updated_at, NULL::timestamptz AS last_event_time, NULL::timestamptz AS received_at
    FROM payment_intent_transitions
   WHERE (source, event_id) IN (SELECT k->>0, k->>1 FROM jsonb_array_elements($1::jsonb) k)
  UNION ALL
  SELECT 'current', NULL, NULL, l.* FROM locked l`

type IntentReadRow = { readonly kind: "seen"; readonly source: string; readonly id: string } | ({ readonly kind: "current" } & IntentRow)

/**
 * One write: the new transitions, the raw log of the events ($2: the batch's rows) whose
 * transition is new, the intents' rows.
 */
const INTENT_WRITE = `WITH transitions AS (${INSERT_TRANSITIONS_SQL}),
  input AS (SELECT * FROM jsonb_to_recordset($2::jsonb) AS x(${RAW_COLUMNS})),
  raw AS (${RAW_INSERT}
      JOIN transitions t ON t.source = i.source AND t.id = i.id
    ON CONFLICT DO NOTHING),
  intents AS (${UPSERT_INTENTS_SQL})
  SELECT source, id FROM transitions`

/**
 * Intents need their current state, so they take a short transaction of two statements (four
 * round trips with BEGIN and COMMIT, instead of seven): read and lock, fold in memory, write.
 */
const writeIntents = (sql: SqlClient.SqlClient, events: ReadonlyArray<IngestEvent>, rows?: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const intentIds = new Map<string, readonly [string, string]>()
    for (const { known } of events) {
      if (known?.type === "PaymentIntent") {
        intentIds.set(intentKey(known.data.gateway_id, known.data.intent_id), [known.data.gateway_id, known.data.intent_id])
      }
    }
    const read = yield* query<IntentReadRow>(sql, INTENT_READ, [
      JSON.stringify(events.map((e) => [e.source, e.id])),
      JSON.stringify([...intentIds.values()])
    ])
    // Transitions are keyed by (source, event_id): the ones already there are duplicates.
    const existing = new Set<string>()
    const current = new Map<string, IntentRow>()
    for (const row of read) {
      if (row.kind === "seen") existing.add(eventKey(row))
      else {
        const { kind: _, ...intent } = row
        current.set(intentKey(intent.gateway_id, intent.intent_id), normaliseRow(intent))
      }
    }
    const fresh: Array<IntentEvent> = events.flatMap((event) =>
      !existing.has(eventKey(event)) && event.known?.type === "PaymentIntent" ? [{ event, data: event.known.data }] : []
    )
    if (fresh.length === 0) return { inserted: new Set<string>() }
    const folded = foldIntents(current, fresh)
    // The whole batch's rows: the join with the new transitions keeps the raw log to fresh events.
    const inserted = keysOf(yield* query<{ source: string; id: string }>(sql, INTENT_WRITE, [
      JSON.stringify(folded.transitions),
      rowsOf(events, rows),
      JSON.stringify(folded.rows)
    ]))
    return { inserted }
  }).pipe(sql.withTransaction, Effect.catchTag("SqlError", (error) => Effect.fail(storeFailure(error))), sqlDefectsAsFailures)

/** node-postgres returns Date objects for timestamptz; the state machine works on strings. */
const normaliseRow = (row: IntentRow): IntentRow => {
  const iso = (value: unknown): string => (value instanceof Date ? value.toISOString() : String(value))
  return {
    ...row,
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
    last_event_time: iso(row.last_event_time),
    received_at: iso(row.received_at),
    expires_at: row.expires_at === null ? null : iso(row.expires_at)
  }
}

export const EventStorePg = Layer.effect(
  EventStore,
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    return {
      write: (route, events, rows) => {
        if (events.length === 0) return Effect.succeed({ inserted: new Set<string>() })
        if (route === "PaymentIntent") return writeIntents(sql, events, rows)
        return query<{ source: string; id: string }>(sql, route === "Other" ? RAW_ONLY : STATEMENTS[route], [rowsOf(events, rows)]).pipe(
          Effect.map((result) => ({ inserted: keysOf(result) }))
        )
      },
      deadLetter: (rows) =>
        rows.length === 0 ? Effect.void : query(
          sql,
          `INSERT INTO dead_letters (received_at, gateway_id, source, event_id, type, reason, field, payload, payload_bytes)
           SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(received_at timestamptz, gateway_id text, source text,
             event_id text, type text, reason text, field text, payload text, payload_bytes integer)`,
          [JSON.stringify(rows.map((row) => ({
            received_at: new Date(row.receivedAt).toISOString(),
            gateway_id: row.gatewayId ?? null,
            source: nullableText(row.source),
            event_id: nullableText(row.eventId),
            type: nullableText(row.type),
            reason: storableText(row.reason),
            field: nullableText(row.field),
            payload: storableText(row.payload),
            payload_bytes: row.payloadBytes
          })))]
        ).pipe(Effect.asVoid),
      touchGateways: (seen) =>
        seen.size === 0 ? Effect.void : query(
          sql,
          `WITH v AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(id text, seen timestamptz, version text)),
                locked AS (SELECT g.id FROM gateways g JOIN v ON v.id = g.id ORDER BY g.id FOR UPDATE OF g SKIP LOCKED)
           UPDATE gateways g SET last_seen_at = GREATEST(g.last_seen_at, v.seen), version = COALESCE(v.version, g.version)
             FROM v JOIN locked l ON l.id = v.id WHERE g.id = v.id`,
          [JSON.stringify([...seen].map(([id, s]) => ({ id, seen: new Date(s.lastSeenAt).toISOString(), version: s.version ?? null })))]
        ).pipe(Effect.asVoid)
    }
  })
)
