/**
 * `GET /v1/telemetry/live` end to end: the realtime handlers and bridge served over real HTTP
 * on a fresh migrated database, read with a real SSE client (fetch + parser). Events enter the
 * way the receiver hands them over (`CommittedEvents.publish` after commit) or, for the
 * cross-process path, as NOTIFYs from a "foreign" process (inline, and keys read back).
 *
 * Covers 400/401/403/429, the ticket flow (single use), heartbeats, headers, cookie and bearer
 * tokens, Last-Event-ID resume, a client that stops reading, and the end of the stream when the
 * token expires.
 */
import { HttpApi, HttpApiBuilder, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { SqlClient } from "@effect/sql"
import { expect, layer } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Layer, Metric, Schedule } from "effect"
import * as http from "node:http"
import { createServer } from "node:http"
import * as os from "node:os"
import { AppSettingsService } from "../../src/config/AppConfig.js"
import { HealthChecks } from "../../src/health/HealthChecks.js"
import { claimsFor, type PrincipalSpec } from "../../src/identity/Jwt.js"
import { signHs256 } from "../../testkit/jwt.js"
import { CommittedEvents } from "../../src/ingest/PipelineService.js"
import { RealtimeApi } from "../../src/realtime/Api.js"
import * as Metrics from "../../src/realtime/Metrics.js"
import { RealtimeHttpFeature, RealtimeLive } from "../../src/realtime/Realtime.js"
import { makeTestDatabase } from "../support/database.js"
import type { LiveEventInput } from "../../src/realtime/Topics.js"
import { asIngestEvent, payment, unknownType } from "./events.js"
import { openSse, type SseConnection, type SseMessage } from "./sse.js"

const SECRET = "live-test-secret-live-test-secret-live!!"

const TestApi = HttpApi.make("machpay-telemetry").add(RealtimeApi)

const config = ConfigProvider.fromMap(
  new Map([
    ["JWT_SECRET", SECRET],
    ["JWT_CLOCK_SKEW_SECONDS", "0"],
    ["SSE_HEARTBEAT", "200 millis"],
    ["SSE_RETRY_MS", "1500"],
    ["SSE_MAX_STREAMS_PER_USER", "2"],
    ["SSE_MAX_TOPICS", "3"],
    ["SSE_SEND_BUFFER_BYTES", "262144"]
  ])
)

const App = HttpApiBuilder.serve().pipe(
  Layer.provide(HttpApiBuilder.api(TestApi).pipe(Layer.provide(RealtimeHttpFeature))),
  Layer.provideMerge(RealtimeLive),
  Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
  Layer.provideMerge(HealthChecks.Live),
  Layer.provide(Layer.succeed(AppSettingsService, {
    host: "127.0.0.1",
    port: 0,
    roles: new Set(["receiver", "api", "worker"] as const),
    dataDir: os.tmpdir(),
    version: "test",
    requestTimeout: Duration.seconds(60)
  })),
  Layer.provideMerge(makeTestDatabase()),
  Layer.provide(Layer.setConfigProvider(config))
)

const token = (spec: PrincipalSpec, ttlSeconds = 600) =>
  signHs256(claimsFor(spec, { now: Date.now() / 1000, ttlSeconds }), SECRET)

const baseUrl = Effect.map(HttpServer.HttpServer, (server) =>
  server.address._tag === "TcpAddress" ? `http://127.0.0.1:${server.address.port}` : "")

const open = (query: string, headers: Record<string, string> = {}) =>
  Effect.flatMap(baseUrl, (base) => Effect.promise(() => openSse(`${base}/v1/telemetry/live?${query}`, headers)))

const until = (connection: SseConnection, predicate: (messages: ReadonlyArray<SseMessage>) => boolean) =>
  Effect.promise(() => connection.until(predicate))

const events = (connection: SseConnection, type?: string) =>
  connection.messages.filter((m) => (type === undefined ? m.event !== "reset" : m.event === type))

const dataOf = (message: SseMessage | undefined): Record<string, unknown> => JSON.parse(message?.data ?? "null")

/** As the receiver does after each commit: one call per committed batch. */
const publish = (...batches: ReadonlyArray<ReadonlyArray<LiveEventInput>>) =>
  Effect.flatMap(CommittedEvents, (committed) => Effect.forEach(batches, (events) => committed.publish(events.map(asIngestEvent))))

const bearer = (jwt: string) => ({ authorization: `Bearer ${jwt}` })

layer(App, { excludeTestServices: true })("live stream over HTTP", (it) => {
  it.effect("fixtures: vendor v1 owns gw_1 and gw_2; the bridge listens for other processes", () =>
    Effect.gen(function*() {
      // A stream opened before the LISTEN connection is up is reset when it comes up (it may have
      // missed other processes' events); the tests below expect none, so they start after it.
      const health = yield* HealthChecks
      yield* health.snapshot.pipe(
        Effect.filterOrFail((s) => s["realtime"]?.status === "ok", () => "not listening yet"),
        Effect.retry(Schedule.spaced("20 millis").pipe(Schedule.upTo("20 seconds")))
      )
      const sql = yield* SqlClient.SqlClient
      yield* sql`INSERT INTO vendors (id, name) VALUES ('v1', 'Vendor 1'), ('v2', 'Vendor 2')`
      yield* sql`INSERT INTO gateways (id, vendor_id, name, ingest_key_hash) VALUES
        ('gw_1', 'v1', 'one', ${"1".repeat(64)}), ('gw_2', 'v1', 'two', ${"2".repeat(64)}),
        ('gw_3', 'v2', 'three', ${"3".repeat(64)})`
    }))

  it.effect("refuses bad topics (400), missing or bad tokens (401) and other tenants' topics (403)", () =>
    Effect.gen(function*() {
      const status = (query: string, headers: Record<string, string> = {}) =>
        Effect.map(open(query, headers), (c) => ({ status: c.status, body: c.errorBody, auth: c.headers.get("www-authenticate") }))
      expect(yield* status("")).toMatchObject({ status: 400, body: expect.stringContaining("at least one topic") })
      expect(yield* status("topics=ticker,gateway:gw_1")).toMatchObject({ status: 400 })
      expect(yield* status("topics=ticker,vendor:gw_1,vendor:gw_2,agent:a1")).toMatchObject({
        status: 400,
        body: expect.stringContaining("at most 3 topics")
      })
      expect(yield* status("topics=vendor:gw_1")).toMatchObject({ status: 401, auth: expect.stringContaining("Bearer") })
      expect(yield* status("topics=ticker", bearer("not.a.jwt"))).toMatchObject({ status: 401 })
      expect(yield* status("topics=vendor:gw_1", bearer(token({ role: "vendor", vendorId: "v1" }, -10)))).toMatchObject({
        status: 401,
        body: expect.stringContaining("expired")
      })
      expect(yield* status("topics=vendor:gw_1", { authorization: "Basic dXNlcjpwdw==" })).toMatchObject({ status: 401 })
      expect(yield* status("topics=vendor:gw_3", bearer(token({ role: "vendor", vendorId: "v1" })))).toMatchObject({
        status: 403,
        body: expect.stringContaining("vendor:gw_3: not one of your gateways")
      })
      expect(yield* status("topics=agent:a2", bearer(token({ role: "agent", agentId: "a1" })))).toMatchObject({ status: 403 })
    }))

  it.effect("anonymous ticker: SSE headers, retry hint, heartbeats, payments without agent identity", () =>
    Effect.gen(function*() {
      const ticker = yield* open("topics=ticker")
      expect(ticker.status).toBe(200)
      expect(ticker.headers.get("content-type")).toMatch(/^text\/event-stream/)
      expect(ticker.headers.get("cache-control")).toBe("no-cache")
      expect(ticker.headers.get("x-accel-buffering")).toBe("no")
      yield* Effect.promise(() => ticker.until(() => ticker.parser.comments >= 2))
      expect(ticker.parser.retry).toBe(1500)

      yield* publish([payment("gw_1", "a1", "t-p1", "1.5"), unknownType("gw_1", "t-u1")], [payment("gw_3", "a2", "t-p2")])
      yield* until(ticker, (m) => m.length >= 2)
      ticker.close()
      expect(ticker.messages.map(dataOf)).toEqual([
        { gateway_id: "gw_1", amount: "1.5", asset: "USDC", network: "base", time: "2025-06-01T12:00:00Z" },
        { gateway_id: "gw_3", amount: "0.25", asset: "USDC", network: "base", time: "2025-06-01T12:00:00Z" }
      ])
    }))

  it.effect("vendor stream by bearer and by cookie; Last-Event-ID replays what was missed", () =>
    Effect.gen(function*() {
      const jwt = token({ role: "vendor", vendorId: "v1" })
      const byHeader = yield* open("topics=vendor:gw_1,vendor:gw_2", bearer(jwt))
      const byCookie = yield* open("topics=vendor:gw_2", { cookie: `other=1; machpay_token=${jwt}` })
      expect([byHeader.status, byCookie.status]).toEqual([200, 200])
      yield* publish([payment("gw_1", "a1", "v-1"), payment("gw_2", "a1", "v-2"), payment("gw_3", "a1", "v-x")])
      yield* until(byHeader, (m) => m.length >= 2)
      yield* until(byCookie, (m) => m.length >= 1)
      expect(byHeader.messages.map((m) => dataOf(m)["id"])).toEqual(["v-1", "v-2"])
      expect(byCookie.messages.map((m) => dataOf(m)["id"])).toEqual(["v-2"])
      byCookie.close()

      const cursor = byHeader.parser.lastEventId ?? ""
      byHeader.close()
      yield* Effect.promise(() => byHeader.closed)
      yield* publish([payment("gw_2", "a1", "v-3")], [unknownType("gw_1", "v-4"), payment("gw_3", "a1", "v-y")])
      const resumed = yield* open("topics=vendor:gw_1,vendor:gw_2", { ...bearer(jwt), "last-event-id": cursor })
      yield* until(resumed, (m) => m.length >= 2)
      expect(resumed.messages.map((m) => dataOf(m)["id"])).toEqual(["v-3", "v-4"])
      resumed.close()

      // A resumed stream is authorised afresh: an agent resuming from the same cursor sees only itself.
      const asAgent = yield* open("topics=agent:a1", { ...bearer(token({ role: "agent", agentId: "a1" })), "last-event-id": cursor })
      yield* until(asAgent, (m) => m.length >= 3)
      expect(asAgent.messages.map((m) => dataOf(m)["id"])).toEqual(["v-x", "v-3", "v-y"])
      asAgent.close()

      const stale = yield* open("topics=vendor:gw_1", { ...bearer(jwt), "last-event-id": "123-1-deadbeef" })
      yield* until(stale, (m) => m.length >= 1)
      expect(stale.messages[0]?.event).toBe("reset")
      stale.close()
    }))

  it.effect("tickets: POST with a bearer token, usable once in the URL", () =>
    Effect.gen(function*() {
      const base = yield* baseUrl
      const post = (headers: Record<string, string>) =>
        Effect.promise(() => fetch(`${base}/v1/telemetry/tickets`, { method: "POST", headers }))
      expect((yield* post({})).status).toBe(401)
      const response = yield* post(bearer(token({ role: "agent", agentId: "a7" })))
      expect(response.status).toBe(200)
      const body = (yield* Effect.promise(() => response.json())) as { ticket: string; expires_at: string }
      expect(Date.parse(body.expires_at)).toBeGreaterThan(Date.now())

      const first = yield* open(`topics=agent:a7&ticket=${encodeURIComponent(body.ticket)}`)
      expect(first.status).toBe(200)
      yield* publish([payment("gw_1", "a7", "k-1")])
      yield* until(first, (m) => m.length >= 1)
      first.close()
      const reused = yield* open(`topics=agent:a7&ticket=${encodeURIComponent(body.ticket)}`)
      expect(reused.status).toBe(401)
      expect(reused.errorBody).toContain("already used")
      const wrongTopic = yield* Effect.flatMap(post(bearer(token({ role: "agent", agentId: "a7" }))), (r) =>
        Effect.promise(() => r.json() as Promise<{ ticket: string }>))
      expect((yield* open(`topics=agent:a8&ticket=${wrongTopic.ticket}`)).status).toBe(403)
    }))

  it.effect("at most SSE_MAX_STREAMS_PER_USER streams per user (429); a closed stream frees its slot", () =>
    Effect.gen(function*() {
      const jwt = token({ role: "agent", agentId: "a9" })
      const a = yield* open("topics=agent:a9", bearer(jwt))
      const b = yield* open("topics=agent:a9,ticker", bearer(jwt))
      const c = yield* open("topics=ticker", bearer(jwt))
      expect([a.status, b.status, c.status]).toEqual([200, 200, 429])
      expect(c.errorBody).toContain("at most 2 concurrent streams")
      expect(Number(c.headers.get("retry-after"))).toBeGreaterThanOrEqual(1)
      const other = yield* open("topics=agent:a10", bearer(token({ role: "agent", agentId: "a10" })))
      expect(other.status).toBe(200)
      other.close()
      a.close()
      // The server notices the close asynchronously: retry until the slot is free.
      const again = yield* open("topics=ticker", bearer(jwt)).pipe(
        Effect.filterOrFail((connection) => connection.status === 200, () => "still full"),
        Effect.retry({ schedule: Schedule.spaced("50 millis"), times: 100 })
      )
      expect(again.status).toBe(200)
      b.close()
      again.close()
    }))

  it.effect("a client that stops reading is disconnected once its send buffer is full", () =>
    Effect.gen(function*() {
      const base = yield* baseUrl
      const before = (yield* Metric.value(Metrics.slowConsumerDrops)).count
      const jwt = token({ role: "admin", subject: "slow-reader" })
      const client = yield* Effect.promise(() =>
        new Promise<{ readonly response: http.IncomingMessage; readonly closed: Promise<void> }>((resolve, reject) => {
          const request = http.get(`${base}/v1/telemetry/live?topics=vendor:gw_2`, { headers: bearer(jwt) }, (response) => {
            response.pause() // never reads: the kernel buffers fill, then the server's
            resolve({ response, closed: new Promise<void>((done) => request.on("close", () => done())) })
          })
          request.on("error", () => undefined)
          request.once("error", reject)
        }))
      const blob = "x".repeat(2000)
      const drops = Metric.value(Metrics.slowConsumerDrops).pipe(Effect.map((state) => state.count - before))
      for (let batch = 0; batch < 200 && (yield* drops) === 0; batch++) {
        yield* publish(Array.from({ length: 200 }, (_, i) => ({ ...unknownType("gw_2", `slow-${batch}-${i}`), data: { blob } })))
        yield* Effect.sleep("5 millis")
      }
      expect(yield* drops).toBe(1)
      // The connection was closed by the server: a client that reads again sees the end.
      client.response.resume()
      yield* Effect.promise(() => client.closed)
    }))

  it.effect("the stream ends with `event: end` when the token expires", () =>
    Effect.gen(function*() {
      const stream = yield* open("topics=vendor:gw_1", bearer(token({ role: "vendor", vendorId: "v1" }, 2)))
      expect(stream.status).toBe(200)
      yield* Effect.promise(() => stream.closed)
      const end = stream.messages.at(-1)
      expect(end?.event).toBe("end")
      expect(dataOf(end)).toMatchObject({ reason: "token_expired" })
    }))

  it.effect("events notified by another process arrive, inline or read back from telemetry_events", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const admin = yield* open("topics=vendor:gw_2", bearer(token({ role: "admin", subject: "ops" })))
      const time = new Date().toISOString()
      yield* sql`INSERT INTO telemetry_events (event_time, source, id, type, gateway_id, received_at, data)
                 VALUES (${time}, 'machpay://gateway/gw_2', 'x-keyed', 'RequestBlocked', 'gw_2', now(),
                         ${JSON.stringify({ gateway_id: "gw_2", agent_id: "a1", reason: "rate_limited" })}::jsonb)`
      const inline = JSON.stringify({
        v: 1,
        o: "ffffffff",
        c: Date.now(),
        e: [["machpay://gateway/gw_2", "x-inline", "SolvencyAlert", time, "gw_2", null, { agent_id: "a1" }]]
      })
      const keyed = JSON.stringify({ v: 1, o: "ffffffff", c: Date.now(), k: [["machpay://gateway/gw_2", "x-keyed", time]] })
      yield* sql`SELECT pg_notify('machpay_realtime', ${inline})`
      yield* sql`SELECT pg_notify('machpay_realtime', ${keyed})`
      yield* until(admin, (m) => events(admin).length >= 2 && m.length >= 2)
      admin.close()
      const received = events(admin)
      expect(received.map((m) => [m.event, dataOf(m)["id"]])).toEqual([["SolvencyAlert", "x-inline"], ["RequestBlocked", "x-keyed"]])
      expect(dataOf(received[1])).toMatchObject({ time, data: { reason: "rate_limited" } })
    }))
})
