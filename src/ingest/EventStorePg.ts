/**
 * PostgreSQL event store. Each flush is ONE statement: the batch travels as one JSON parameter,
 * `jsonb_to_recordset` turns it into rows, and data-modifying CTEs write the typed table, the
 * raw log and the rollup dirty marks together — atomic without BEGIN/COMMIT round trips.
 *
 * Duplicates: the typed tables are keyed by (source, event_id) alone, so the typed insert
 * (`ON CONFLICT DO NOTHING … RETURNING`) decides what is new, and only new events reach the
 * raw log (whose key must include its partition column). Raw-only events are checked against
 * the log by (source, id). Intents need their current state: a read, then a guarded write
 * (IntentStorePg.ts).
 *
 * Lock order: rows that several flushes may touch (dirty marks, gateways) are written sorted,
 * and the last-seen update skips rows another process holds, so flushes cannot deadlock.
 *
 * Statements are prepared text (`sql.unsafe`) run through the `SqlClient`, so each is traced
 * and pooled like every other query; failures are classified by SQLSTATE (`storeErrorOf`).
 */
import { SqlClient } from "@effect/sql"
import { Effect, Layer } from "effect"
import { DEFAULT_WINDOW_SECONDS } from "../../schema/index.js"
import { EventStore } from "./EventStore.js"
import type { Route } from "./IngestEvent.js"
import { writeIntents } from "./IntentStorePg.js"
import { keysOf, query, RAW_COLUMNS, RAW_INSERT, rowsOf } from "./StoreSql.js"
import { storableText } from "../http/JsonText.js"

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

/** Raw-only events: the log's key includes the time, so look for the same source + id first. */
const RAW_ONLY = `WITH input AS MATERIALIZED (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(${RAW_COLUMNS}))
  ${RAW_INSERT}
   WHERE NOT EXISTS (SELECT 1 FROM telemetry_events t WHERE t.source = i.source AND t.id = i.id)
  ON CONFLICT DO NOTHING RETURNING source, id`

// Dead letters hold whatever was sent; text PostgreSQL cannot store is made visible instead.
const nullableText = (text: string | undefined) => (text === undefined ? null : storableText(text))

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
