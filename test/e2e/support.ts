/**
 * The end-to-end ingest fixture: a fresh database seeded with a vendor and gateways (one plain,
 * one signing, one disabled, one rate-limited), two started servers on it, and the HTTP, event
 * and database helpers the tests use.
 */
import { SqlClient } from "@effect/sql"
import { Context, Effect, Layer, Redacted, Schedule, Schema } from "effect"
import { randomBytes } from "node:crypto"
import { ErrorBody, IngestResponse } from "../../schema/index.js"
import { hashIngestKey } from "../../src/identity/IngestKey.js"
import { makeTestDatabase, TestDatabaseInfo } from "../support/database.js"
import { wireEvent, type WireEvent } from "../support/ingestEvents.js"
import { startTestServer, type TestServer } from "../support/server.js"

export const newKey = () => `mpk_live_${randomBytes(32).toString("base64url")}`
export const KEYS = { main: newKey(), signed: newKey(), disabled: newKey(), slow: newKey(), narrow: newKey() }
export const SIGNING_SECRET = "whsec_e2e_signing_secret"

export const LIMITS = {
  INGEST_MAX_BODY_BYTES: "65536",
  INGEST_MAX_DECOMPRESSED_BYTES: "262144",
  INGEST_MAX_EVENTS_PER_REQUEST: "50"
}

/** The main server's HTTP_REQUEST_TIMEOUT: a client that never finishes its body is cut off. */
export const REQUEST_TIMEOUT = "2 seconds"

export class Servers extends Context.Tag("Test/E2EServers")<Servers, {
  readonly main: TestServer
  /** INGEST_QUEUE_CAPACITY=5 and a journal too small for any event: nowhere to put a sixth. */
  readonly smallQueue: TestServer
}>() {}

const seed = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`INSERT INTO vendors (id, name) VALUES ('v-e2e', 'E2E vendor')`
  const gateways = [
    { id: "gw-main", key: KEYS.main, signing_secret: null, rate_limit_per_sec: null, rate_limit_bytes_per_sec: null, disabled: false },
    { id: "gw-signed", key: KEYS.signed, signing_secret: SIGNING_SECRET, rate_limit_per_sec: null, rate_limit_bytes_per_sec: null, disabled: false },
    { id: "gw-disabled", key: KEYS.disabled, signing_secret: null, rate_limit_per_sec: null, rate_limit_bytes_per_sec: null, disabled: true },
    { id: "gw-slow", key: KEYS.slow, signing_secret: null, rate_limit_per_sec: 1, rate_limit_bytes_per_sec: null, disabled: false },
    // 500 bytes of bodies per second: its own byte rate, not the server's.
    { id: "gw-narrow", key: KEYS.narrow, signing_secret: null, rate_limit_per_sec: null, rate_limit_bytes_per_sec: 500, disabled: false }
  ]
  for (const g of gateways) {
    yield* sql`
      INSERT INTO gateways (id, vendor_id, name, ingest_key_hash, ingest_key_prefix, signing_secret, rate_limit_per_sec,
                            rate_limit_bytes_per_sec, disabled_at)
      VALUES (${g.id}, 'v-e2e', ${g.id}, ${hashIngestKey(g.key)}, ${g.key.slice(0, 12)}, ${g.signing_secret},
              ${g.rate_limit_per_sec}, ${g.rate_limit_bytes_per_sec}, ${g.disabled ? new Date() : null})`
  }
})

export const ServersLive = Layer.scoped(
  Servers,
  Effect.gen(function*() {
    yield* seed
    const databaseUrl = Redacted.value((yield* TestDatabaseInfo).url)
    const [main, smallQueue] = yield* Effect.all([
      startTestServer({ databaseUrl, env: { ROLES: "receiver", HTTP_REQUEST_TIMEOUT: REQUEST_TIMEOUT, ...LIMITS } }),
      startTestServer({ databaseUrl, env: { ROLES: "receiver", INGEST_QUEUE_CAPACITY: "5", JOURNAL_MAX_BYTES: "64" } })
    ], { concurrency: 2 })
    return { main, smallQueue }
  }).pipe(Effect.orDie)
).pipe(Layer.provideMerge(makeTestDatabase()))

// --- HTTP ------------------------------------------------------------------------------------

export const STRUCTURED = "application/cloudevents+json; charset=utf-8"
export const BATCH = "application/cloudevents-batch+json; charset=utf-8"

export interface Reply {
  readonly status: number
  readonly headers: Headers
  readonly text: string
}

export const request = (server: TestServer, path: string, init: RequestInit = {}) =>
  Effect.promise(async (): Promise<Reply> => {
    const response = await fetch(`${server.url}${path}`, init)
    return { status: response.status, headers: response.headers, text: await response.text() }
  })

/** Like `request`, but gives up after `ms`: status 0 then means "no answer in time". */
export const requestWithin = (ms: number, server: TestServer, path: string, init: RequestInit) =>
  Effect.promise(async (): Promise<Reply> => {
    try {
      const response = await fetch(`${server.url}${path}`, { ...init, signal: AbortSignal.timeout(ms) })
      return { status: response.status, headers: response.headers, text: await response.text() }
    } catch (error) {
      return { status: 0, headers: new Headers(), text: `no answer within ${ms} ms: ${String(error)}` }
    }
  })

export const ingest = (
  server: TestServer,
  body: string | Uint8Array,
  headers: Readonly<Record<string, string>>,
  key: string | null = KEYS.main
) =>
  request(server, "/v1/ingest", {
    method: "POST",
    headers: { ...(key === null ? {} : { authorization: `Bearer ${key}` }), ...headers },
    body
  })

export const structured = (event: unknown, extra: Readonly<Record<string, string>> = {}, key?: string) =>
  Effect.flatMap(Servers, ({ main }) => ingest(main, JSON.stringify(event), { "content-type": STRUCTURED, ...extra }, key))

export const batch = (events: ReadonlyArray<unknown>, extra: Readonly<Record<string, string>> = {}, key?: string) =>
  Effect.flatMap(Servers, ({ main }) => ingest(main, JSON.stringify(events), { "content-type": BATCH, ...extra }, key))

export const WAIT = { prefer: "wait=commit" }

/** The body must match the contract's schema, whatever the status. */
export const outcomes = (reply: Reply) =>
  Schema.decodeUnknown(Schema.parseJson(IngestResponse))(reply.text).pipe(Effect.orDieWith((e) => new Error(`${reply.status} ${reply.text}\n${e}`)))

export const problem = (reply: Reply) =>
  Schema.decodeUnknown(Schema.parseJson(ErrorBody))(reply.text).pipe(Effect.orDieWith((e) => new Error(`${reply.status} ${reply.text}\n${e}`)))

// --- events ----------------------------------------------------------------------------------

let sequence = 0
export const nextId = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${++sequence}`
/** A second ago: inside the accepted window on the server's clock. */
export const recently = () => new Date(Date.now() - 1_000).toISOString()

export const payment = (gateway = "gw-main", id = nextId("pay")): WireEvent => wireEvent("PaymentAuthorized", { id, time: recently(), gateway })

// --- database --------------------------------------------------------------------------------

export const count = (table: string, column: string, ids: ReadonlyArray<string>) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ n: number }>`SELECT count(*)::int AS n FROM ${sql(table)} WHERE ${sql(column)} IN ${sql.in(ids)}`.pipe(
      Effect.map((rows) => rows[0]?.n ?? 0)
    ))

/** Polls until `check` holds (bounded): for what the server writes after answering. */
export const eventually = <A, E, R>(effect: Effect.Effect<A, E, R>, check: (a: A) => boolean, what: string) =>
  effect.pipe(
    Effect.filterOrFail(check, () => `not yet: ${what}`),
    Effect.retry(Schedule.spaced("50 millis").pipe(Schedule.upTo("15 seconds"))),
    Effect.orDieWith((e) => new Error(String(e)))
  )

export const deadLetters = (eventIds: ReadonlyArray<string>) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ event_id: string; gateway_id: string | null; field: string | null; reason: string }>`
      SELECT event_id, gateway_id, field, reason FROM dead_letters WHERE event_id IN ${sql.in(eventIds)} ORDER BY event_id`)

