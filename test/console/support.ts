/**
 * The console served in-process on a fresh test database: only the console groups of the
 * contract (same API id, so the real handler layers plug in), `/openapi.json`, tokens for
 * every principal of the authorisation matrix, and fixture inserts in plain SQL.
 */
import { HttpApi, HttpApiBuilder, HttpApiClient, HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { SqlClient } from "@effect/sql"
import { Effect, Layer, Redacted, Stream } from "effect"
import { JwtSecret } from "../../src/auth/JwtSecret.js"
import { AuthenticationLive } from "../../src/auth/AuthenticationLive.js"
import { DefectsAnsweredLive } from "../../src/http/Defects.js"
import { AuthenticatorFromSecret } from "../../src/auth/Authenticator.js"
import { AdminConsoleApi, AgentConsoleApi, VendorConsoleApi } from "../../src/console/Api.js"
import { ConsoleGroupsLive, ConsoleHandlersLive } from "../../src/console/Console.js"
import { CursorKeyLive } from "../../src/console/Cursor.js"
import { DatabaseStatus } from "../../src/db/Database.js"
import { claimsFor, type PrincipalSpec } from "../../src/identity/Jwt.js"
import { signHs256 } from "../../testkit/jwt.js"
import { makeTestDatabase } from "../support/database.js"

export const SECRET = "console-test-secret-console-test-secret!"

export const ConsoleTestApi = HttpApi.make("machpay-telemetry")
  .add(VendorConsoleApi)
  .add(AgentConsoleApi)
  .add(AdminConsoleApi)

const ready = Layer.succeed(DatabaseStatus, {
  state: Effect.succeed({ _tag: "Ready" as const, migrationsApplied: 0 }),
  ready: Effect.void,
  ping: Effect.succeed(true)
})

const secret = Layer.succeed(JwtSecret, { secret: Redacted.make(SECRET), source: { _tag: "Config" } })

const withAuth = <ROut, E, RIn>(groups: Layer.Layer<ROut, E, RIn>) =>
  groups.pipe(
    Layer.provide(AuthenticationLive),
    Layer.provide(AuthenticatorFromSecret),
    Layer.provide(secret),
    Layer.provide(ready)
  )

const handlers = withAuth(ConsoleHandlersLive)

/** The console server (with its test HttpClient) on the given database layer. */
export const consoleServerOn = <ROut, E, RIn>(database: Layer.Layer<ROut, E, RIn>) =>
  HttpApiBuilder.serve().pipe(
    Layer.provide(HttpApiBuilder.middlewareOpenApi({ path: "/openapi.json" })),
    Layer.provide(DefectsAnsweredLive),
    Layer.provide(HttpApiBuilder.api(ConsoleTestApi).pipe(Layer.provide(handlers))),
    Layer.provideMerge(NodeHttpServer.layerTest),
    Layer.provideMerge(database)
  )

/**
 * The console server (with its test HttpClient) on the given repositories and no database:
 * the real handler groups over `Layer.mock` repositories (test/console/handlers.test.ts).
 */
export const consoleServerWithRepos = <ROut, E, RIn>(repos: Layer.Layer<ROut, E, RIn>) =>
  HttpApiBuilder.serve().pipe(
    Layer.provide(DefectsAnsweredLive),
    Layer.provide(HttpApiBuilder.api(ConsoleTestApi).pipe(Layer.provide(withAuth(ConsoleGroupsLive.pipe(Layer.provide(repos)))))),
    Layer.provideMerge(NodeHttpServer.layerTest)
  )

/** The server (with its test HttpClient) on a fresh migrated database. */
export const ConsoleTestLayer = consoleServerOn(makeTestDatabase())

/** The key the test server signs cursors with (derived from the JWT secret), to forge signed cursors. */
export const TestCursorKey = CursorKeyLive.pipe(Layer.provide(secret))

const now = () => Date.now() / 1000

export const token = (spec: PrincipalSpec, options: { readonly ttl?: number; readonly secret?: string } = {}) =>
  signHs256(claimsFor(spec, { now: now(), ttlSeconds: options.ttl ?? 600 }), options.secret ?? SECRET)

export const expiredToken = (spec: PrincipalSpec) =>
  signHs256(claimsFor(spec, { now: now() - 7200, ttlSeconds: 3600 }), SECRET)

/** A typed client whose requests carry `bearer` (or none). */
export const clientFor = (bearer: string | undefined) =>
  HttpApiClient.make(ConsoleTestApi, {
    transformClient: (client) =>
      bearer === undefined ? client : client.pipe(HttpClient.mapRequest(HttpClientRequest.bearerToken(bearer)))
  })

/** A raw request, for status codes and headers. */
export const send = (
  method: "GET" | "POST" | "PATCH" | "DELETE" | "OPTIONS",
  url: string,
  options: {
    readonly bearer?: string | undefined
    readonly body?: unknown
    /** Sent as is, as application/json (a malformed or oversized body). */
    readonly rawBody?: string
    /** Send `rawBody` as a stream: chunked, no Content-Length. */
    readonly chunked?: boolean
    /** Content type of `rawBody` (default application/json). */
    readonly contentType?: string
    readonly headers?: Record<string, string> | undefined
  } = {}
) =>
  Effect.gen(function*() {
    let request = HttpClientRequest.make(method)(url)
    if (options.headers !== undefined) request = HttpClientRequest.setHeaders(request, options.headers)
    if (options.bearer !== undefined) request = HttpClientRequest.bearerToken(request, options.bearer)
    if (options.body !== undefined) request = yield* HttpClientRequest.bodyJson(request, options.body)
    if (options.rawBody !== undefined) {
      request = options.chunked === true
        ? HttpClientRequest.bodyStream(request, Stream.make(new TextEncoder().encode(options.rawBody)), { contentType: options.contentType ?? "application/json" })
        : HttpClientRequest.bodyText(request, options.rawBody, options.contentType ?? "application/json")
    }
    const response = yield* HttpClient.execute(request)
    const text = yield* response.text
    const json = (() => {
      try {
        return text.length > 0 ? JSON.parse(text) as unknown : undefined
      } catch {
        return text
      }
    })()
    return { status: response.status, headers: response.headers, body: json }
  }).pipe(Effect.scoped)

// --- fixtures --------------------------------------------------------------------------

let counter = 0
const nextId = (prefix: string) => `${prefix}${++counter}_${Math.random().toString(36).slice(2, 8)}`

export const insertVendor = (id: string, gateways: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`INSERT INTO vendors (id, name) VALUES (${id}, ${`Vendor ${id}`})`
    for (const gw of gateways) {
      const hash = Buffer.from(gw.padEnd(32, "x")).toString("hex").slice(0, 64).padEnd(64, "0")
      yield* sql`INSERT INTO gateways (id, vendor_id, name, ingest_key_hash, last_seen_at)
                 VALUES (${gw}, ${id}, ${`Gateway ${gw}`}, ${hash}, now())`
    }
  })

export interface PaymentFixture {
  readonly gateway: string
  readonly agent: string
  readonly time: string
  readonly amount?: string
  readonly asset?: string
  readonly network?: string
  readonly route?: string
}

export const insertPayments = (rows: ReadonlyArray<PaymentFixture>) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    if (rows.length === 0) return [] as ReadonlyArray<string>
    const ids = rows.map(() => nextId("pay"))
    yield* sql`
      INSERT INTO payment_authorized (event_time, received_at, source, event_id, gateway_id, agent_id, payment_id,
                                      request_id, method, route, amount, asset, network)
      SELECT t, now(), 'test', id, gw, agent, id, 'req-' || id, 'GET', route, amount, asset, network
        FROM unnest(${rows.map((r) => r.time)}::timestamptz[], ${ids}::text[], ${rows.map((r) => r.gateway)}::text[],
                    ${rows.map((r) => r.agent)}::text[], ${rows.map((r) => r.route ?? "/v1/data")}::text[],
                    ${rows.map((r) => r.amount ?? "0.25")}::numeric[], ${rows.map((r) => r.asset ?? "USDC")}::text[],
                    ${rows.map((r) => r.network ?? "base")}::text[])
             AS x(t, id, gw, agent, route, amount, asset, network)`
    return ids
  })

export const minutesAgo = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString()
