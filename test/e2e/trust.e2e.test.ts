/**
 * The ingest trust boundary against the started server (issue 12): a gateway speaks only for
 * itself, a signed request refused with 503 can be retried as is while a replay (in any spelling)
 * cannot, times and sizes are bounded, strangers cannot grow /metrics, a single-role process
 * cannot be walked around by spelling a path, and malformed keys never reach the database.
 */
import { SqlClient } from "@effect/sql"
import { expect, layer } from "@effect/vitest"
import { Deferred, Effect, Fiber, Redacted } from "effect"
import { gatewayTelemetryPacketData } from "../../schema/examples.js"
import { hashIngestKey } from "../../src/identity/IngestKey.js"
import { signBinary } from "../../gateway/Signing.js"
import { signRequest } from "../../src/identity/RequestSignature.js"
import { TestDatabaseInfo } from "../support/database.js"
import { sourceOf } from "../support/ingestEvents.js"
import { startTestServer } from "../support/server.js"
import {
  BATCH,
  count,
  deadLetters,
  eventually,
  ingest,
  KEYS,
  newKey,
  nextId,
  outcomes,
  payment,
  problem,
  request,
  Servers,
  ServersLive,
  SIGNING_SECRET,
  STRUCTURED,
  WAIT
} from "./support.js"

const OTHER_KEY = newKey()

const addOtherGateway = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql`
    INSERT INTO gateways (id, vendor_id, name, ingest_key_hash, ingest_key_prefix)
    VALUES ('gw-other', 'v-e2e', 'other', ${hashIngestKey(OTHER_KEY)}, ${OTHER_KEY.slice(0, 12)})
    ON CONFLICT DO NOTHING`)

const metricsText = Effect.flatMap(Servers, ({ main }) => Effect.map(request(main, "/metrics"), (r) => r.text))

layer(ServersLive, { excludeTestServices: true, timeout: "180 seconds" })("ingest trust boundary (started server)", (it) => {
  it.effect("finding 1: gateway A cannot post under B's source, so it cannot make B's events duplicates", () =>
    Effect.gen(function*() {
      yield* addOtherGateway
      const { main } = yield* Servers
      const id = nextId("victim")
      // A (gw-main) speaks for itself in data but uses B's source and B's next id.
      const spoof = { ...payment("gw-main", id), source: "machpay://gateway/gw-other" }
      const refused = yield* ingest(main, JSON.stringify(spoof), { "content-type": STRUCTURED, ...WAIT })
      expect(refused.status, refused.text).toBe(403)
      expect(yield* problem(refused)).toMatchObject({ error: "forbidden", field: "source" })
      // Mixed with its own valid event: only the spoofed one is rejected, naming source.
      const mixed = yield* outcomes(
        yield* ingest(main, JSON.stringify([payment(), { ...spoof, id: nextId("victim") }]), { "content-type": BATCH, ...WAIT })
      )
      expect(mixed.results.map((r) => [r.status, r.field])).toEqual([["accepted", undefined], ["rejected", "source"]])
      // B's real event with that id is accepted and stored.
      const real = yield* ingest(main, JSON.stringify(payment("gw-other", id)), { "content-type": STRUCTURED, ...WAIT }, OTHER_KEY)
      expect(real.status, real.text).toBe(200)
      expect((yield* outcomes(real)).results[0]?.status).toBe("accepted")
      const sql = yield* SqlClient.SqlClient
      expect(yield* sql`SELECT gateway_id, source FROM payment_authorized WHERE event_id = ${id}`).toEqual([
        { gateway_id: "gw-other", source: "machpay://gateway/gw-other" }
      ])

      // Bare packets without packet_id have predictable ids; each gateway's is under its own source.
      const windowStart = new Date(Math.floor(Date.now() / 60_000) * 60_000 - 120_000).toISOString()
      const { packet_id: _drop, ...bare } = gatewayTelemetryPacketData
      const send = (gateway: string, key: string) =>
        ingest(main, JSON.stringify({ ...bare, gateway_id: gateway, window_start: windowStart }), {
          "content-type": "application/json",
          ...WAIT
        }, key)
      expect((yield* outcomes(yield* send("gw-main", KEYS.main))).results[0]?.status).toBe("accepted")
      expect((yield* outcomes(yield* send("gw-other", OTHER_KEY))).results[0]?.status).toBe("accepted")
      const packets = yield* sql<{ source: string }>`
        SELECT source FROM gateway_telemetry WHERE event_id = ${`telemetry-${windowStart}`} ORDER BY source`
      expect(packets.map((p) => p.source)).toEqual(["machpay://gateway/gw-main/metrics", "machpay://gateway/gw-other/metrics"])
    }))

  it.effect("finding 2: a signed request refused with 503 is accepted when re-sent as is; then it is a replay", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const { smallQueue } = yield* Servers
      // Hold the raw log so nothing commits: 4 events waiting for their commit fill most of the
      // small server's memory (5), and a signed request of 3 more is refused with 503.
      const release = yield* Deferred.make<void>()
      const locked = yield* Deferred.make<void>()
      const holder = yield* sql.withTransaction(
        sql`LOCK TABLE telemetry_events IN ACCESS EXCLUSIVE MODE`.pipe(
          Effect.zipRight(Deferred.succeed(locked, undefined)),
          Effect.zipRight(Deferred.await(release))
        )
      ).pipe(Effect.fork)
      yield* Deferred.await(locked)
      const filler = yield* ingest(smallQueue, JSON.stringify([payment(), payment(), payment(), payment()]), {
        "content-type": BATCH,
        ...WAIT
      }).pipe(Effect.fork)
      yield* Effect.sleep("300 millis")
      const body = JSON.stringify([payment("gw-signed"), payment("gw-signed"), payment("gw-signed")])
      const signature = signRequest(SIGNING_SECRET, new TextEncoder().encode(body), Math.floor(Date.now() / 1000))
      const send = () =>
        ingest(smallQueue, body, { "content-type": BATCH, "x-machpay-signature": signature, ...WAIT }, KEYS.signed)
      const refused = yield* send()
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(holder)
      expect(refused.status, refused.text).toBe(503)
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1)
      expect((yield* Fiber.join(filler)).status).toBe(200)

      const retried = yield* send()
      expect(retried.status, retried.text).toBe(200)
      expect((yield* outcomes(retried)).accepted).toBe(3)
      const replayed = yield* send()
      expect(replayed.status).toBe(401)
      expect((yield* problem(replayed)).error).toBe("replayed_request")
    }))

  it.effect("finding 3: every spelling of a signature header is malformed (401); a replay writes nothing", () =>
    Effect.gen(function*() {
      const { main } = yield* Servers
      const good = payment("gw-signed")
      const base = payment("gw-signed")
      const bad: Record<string, unknown> = { ...base, data: { ...(base["data"] as object), amount: "nope" } }
      const body = JSON.stringify([good, bad])
      const bytes = new TextEncoder().encode(body)
      const now = Math.floor(Date.now() / 1000)
      const header = signRequest(SIGNING_SECRET, bytes, now)
      const v1 = header.slice(header.indexOf("v1=") + 3)
      const send = (signature: string) =>
        ingest(main, body, { "content-type": BATCH, "x-machpay-signature": signature }, KEYS.signed)

      const first = yield* send(header)
      expect(first.status, first.text).toBe(202)
      expect((yield* outcomes(first)).rejected).toBe(1)
      const letters = yield* eventually(deadLetters([String(bad["id"])]), (rows) => rows.length === 1, "the bad event's dead letter")
      expect(letters[0]?.field).toBe("data.amount")

      for (
        const variant of [
          `t=${now},v1=${v1.toUpperCase()}`,
          `t=${now}, v1=${v1}`,
          `${header},v0=x`,
          `${header},v1=${v1}`,
          `t=0${now},v1=${v1}`
        ]
      ) {
        const reply = yield* send(variant)
        expect(reply.status, variant).toBe(401)
        const body = yield* problem(reply)
        expect(body.error, variant).toBe("bad_signature")
        expect(body.message, variant).toContain("malformed")
        expect(body.message).toContain("t=<unix seconds>,v1=<64 lowercase hex digits>")
      }
      const replay = yield* send(header)
      expect(replay.status).toBe(401)
      expect((yield* problem(replay)).error).toBe("replayed_request")
      yield* Effect.sleep("500 millis") // dead letters are written in the background
      expect(yield* deadLetters([String(bad["id"])])).toHaveLength(1)
    }))

  it.effect("binary mode: the signature covers the ce-* headers, so a signed request cannot be re-sent with another id or time", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const { main } = yield* Servers
      const event = payment("gw-signed")
      const data = new TextEncoder().encode(JSON.stringify(event["data"]))
      const headers = {
        "ce-specversion": "1.0",
        "ce-id": String(event["id"]),
        "ce-source": sourceOf("gw-signed"),
        "ce-type": "PaymentAuthorized",
        "ce-time": String(event["time"]),
        "content-type": "application/json"
      }
      const now = Math.floor(Date.now() / 1000)
      const send = (sent: Record<string, string>, signature: string) =>
        ingest(main, data, { ...sent, "x-machpay-signature": signature, ...WAIT }, KEYS.signed)

      // Signed over the body only (the old rule): refused, and told why.
      const bodyOnly = yield* send(headers, signRequest(SIGNING_SECRET, data, now))
      expect(bodyOnly.status, bodyOnly.text).toBe(401)
      expect(yield* problem(bodyOnly)).toMatchObject({ error: "bad_signature", field: "x-machpay-signature" })
      expect((yield* problem(bodyOnly)).message).toContain("in binary mode the ce-*, content-type and content-encoding headers are signed too")

      // Signed with the gateway library: accepted and stored.
      const signature = signBinary(SIGNING_SECRET, headers, data, now)
      const first = yield* send(headers, signature)
      expect(first.status, first.text).toBe(200)
      expect((yield* outcomes(first)).accepted).toBe(1)

      // The same signature with another id (or time) is not a signature of that request.
      const forgedId = nextId("forged")
      for (const changed of [{ "ce-id": forgedId }, { "ce-time": new Date(Date.now() - 60_000).toISOString() }, { "content-encoding": "gzip" }]) {
        const reply = yield* send({ ...headers, ...changed }, signature)
        expect(reply.status, JSON.stringify(changed)).toBe(401)
        expect((yield* problem(reply)).error).toBe("bad_signature")
      }
      expect(yield* count("telemetry_events", "id", [forgedId])).toBe(0)
      // And as sent, it is a replay.
      const replay = yield* send(headers, signature)
      expect(replay.status).toBe(401)
      expect((yield* problem(replay)).error).toBe("replayed_request")
      // A second event with the same data in the same second is a new request, not a replay.
      const second = { ...headers, "ce-id": nextId("pay") }
      const again = yield* send(second, signBinary(SIGNING_SECRET, second, data, now))
      expect(again.status, again.text).toBe(200)
      const stored = yield* sql<{ n: number }>`
        SELECT count(*)::int AS n FROM payment_authorized WHERE event_id IN (${headers["ce-id"]}, ${second["ce-id"]})`
      expect(stored[0]?.n).toBe(2)
    }))

  it.effect("findings 4/5: windows in 1970/9999 and over-long ids are rejected, naming the field and the limit", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const { main } = yield* Servers
      const bare = (windowStart: string) =>
        ingest(main, JSON.stringify({ ...gatewayTelemetryPacketData, gateway_id: "gw-main", packet_id: nextId("old"), window_start: windowStart }), {
          "content-type": "application/json"
        })
      for (const windowStart of ["1970-01-01T00:00:00Z", "9999-12-31T23:00:00Z"]) {
        const reply = yield* bare(windowStart)
        expect(reply.status, reply.text).toBe(400)
        expect((yield* outcomes(reply)).results[0]).toMatchObject({ status: "rejected", field: "data.window_start" })
      }
      // As a CloudEvent whose envelope time is fine: the packet's own window decides.
      const asEvent = {
        ...payment(),
        type: "GatewayTelemetryPacket",
        data: { ...gatewayTelemetryPacketData, gateway_id: "gw-main", packet_id: nextId("pkt"), window_start: "1970-01-01T00:00:00Z" }
      }
      const reply = yield* ingest(main, JSON.stringify(asEvent), { "content-type": STRUCTURED })
      expect(reply.status).toBe(400)
      expect((yield* outcomes(reply)).results[0]).toMatchObject({ field: "data.window_start" })
      expect(yield* sql`SELECT 1 FROM gateway_telemetry WHERE window_start < '2000-01-01' OR window_start > '3000-01-01'`).toEqual([])
      expect(yield* sql`SELECT 1 FROM rollup_dirty WHERE hour < '2000-01-01' OR hour > '3000-01-01'`).toEqual([])

      const long = yield* ingest(main, JSON.stringify({ ...payment(), id: "€".repeat(171) }), { "content-type": STRUCTURED })
      expect(long.status).toBe(400)
      expect((yield* outcomes(long)).results[0]).toMatchObject({ field: "id", reason: "must be at most 512 bytes (UTF-8)" })
    }))

  it.effect("finding 6: 300 random 404 paths and 300 unknown types leave /metrics bounded; 404s are 404", () =>
    Effect.gen(function*() {
      const { main } = yield* Servers
      // Warm the label sets first (one of each), then measure what 300 more strangers add.
      yield* request(main, `/warm-${nextId("p")}`)
      yield* ingest(main, JSON.stringify([{ ...payment(), type: `com.example.${nextId("t")}`, id: nextId("u") }]), {
        "content-type": BATCH,
        ...WAIT
      })
      yield* metricsText
      const before = (yield* metricsText).length
      yield* Effect.forEach(Array.from({ length: 300 }, (_, i) => i), (i) =>
        request(main, `/random/${nextId("p")}/${i}`), { concurrency: 10, discard: true })
      // An unknown route is a 404 (an empty 408 declared on ingest once made the platform answer it 408).
      expect((yield* request(main, `/random/${nextId("p")}`)).status).toBe(404)
      const unknown = Array.from({ length: 300 }, () => ({ ...payment(), type: `com.example.${nextId("t")}`, id: nextId("u") }))
      for (let i = 0; i < unknown.length; i += 50) {
        const reply = yield* ingest(main, JSON.stringify(unknown.slice(i, i + 50)), { "content-type": BATCH, ...WAIT })
        expect(reply.status, reply.text).toBe(200)
      }
      const text = yield* metricsText
      // The pipeline's own accepted/duplicate counter (src/ingest/Pipeline.ts, not this boundary's
      // code) still labels raw types; measured apart so the rest is held to a bound.
      const pipelineLines = text.split("\n").filter((line) => /^ingest_events_total\{[^}]*com\.example/.test(line))
      const after = text.length - pipelineLines.reduce((n, line) => n + line.length + 1, 0)
      console.log(
        `/metrics: ${before} bytes before, ${text.length} after 300 random 404s and 300 unknown types ` +
          `(${pipelineLines.length} lines / ${text.length - after} bytes of them from the pipeline's outcome counter)`
      )
      expect(after - before).toBeLessThan(4_000)
      expect(text).not.toContain("/random/")
      expect(text).toMatch(/http_request_duration_seconds_count\{[^}]*route="other"[^}]*status="404"|http_request_duration_seconds_count\{[^}]*status="404"[^}]*route="other"/)
      const receivedTypes = new Set([...text.matchAll(/ingest_events_received_total\{[^}]*type="([^"]*)"/g)].map((m) => m[1]))
      expect([...receivedTypes].filter((t) => t?.startsWith("com.example"))).toEqual([])
      expect(receivedTypes.has("other")).toBe(true)
      expect(text).not.toMatch(/ingest_events_received_total\{[^}]*com\.example/)
      expect(text).not.toMatch(/http_request_duration[^\n]*com\.example/)
    }))

  it.effect("finding 7: a receiver-only process refuses api routes however they are spelled, and vice versa", () =>
    Effect.gen(function*() {
      const { main } = yield* Servers // ROLES=receiver
      for (const path of ["/v1/vendor/stats", "/V1/vendor/stats", "/v1/%76endor/stats", "/V1/telemetry/live?topics=ticker", "//v1/vendor/stats/"]) {
        const reply = yield* request(main, path)
        expect(reply.status, path).toBe(404)
        expect(JSON.parse(reply.text).error, path).toBe("role_disabled")
      }
      const databaseUrl = Redacted.value((yield* TestDatabaseInfo).url)
      const api = yield* startTestServer({ databaseUrl, env: { ROLES: "api" } })
      for (const path of ["/v1/ingest", "/V1/INGEST", "/v1/%69ngest"]) {
        const reply = yield* request(api, path, {
          method: "POST",
          headers: { authorization: `Bearer ${KEYS.main}`, "content-type": STRUCTURED },
          body: JSON.stringify(payment())
        })
        expect(reply.status, path).toBe(404)
        expect(JSON.parse(reply.text).error, path).toBe("role_disabled")
      }
    }).pipe(Effect.scoped))

  it.effect("finding 8: a flood of malformed keys never reaches the database", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const { main } = yield* Servers
      const scans = sql<{ n: string }>`
        SELECT (coalesce(seq_scan, 0) + coalesce(idx_scan, 0))::text AS n FROM pg_stat_user_tables WHERE relname = 'gateways'`.pipe(
        Effect.map((rows) => Number(rows[0]?.n ?? 0))
      )
      const settle = Effect.zipRight(Effect.sleep("1200 millis"), Effect.zipRight(sql`SELECT pg_stat_clear_snapshot()`, scans))
      const body = JSON.stringify(payment())
      // An idle backend reports its counters up to 10 s late (earlier tests' lookups, other
      // servers): ending every other session of this database makes them report now.
      const reportNow = sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                  WHERE datname = current_database() AND pid <> pg_backend_pid()`
      const start = yield* Effect.zipRight(reportNow, settle)
      yield* Effect.forEach(Array.from({ length: 300 }, (_, i) => i), (i) =>
        Effect.flatMap(ingest(main, body, { "content-type": STRUCTURED }, `mpk_live_bad${i}`), (reply) =>
          Effect.sync(() => expect(reply.status).toBe(401))), { concurrency: 10, discard: true })
      const afterMalformed = yield* Effect.zipRight(reportNow, settle)
      expect(afterMalformed - start).toBe(0)
      // The measure does see lookups: well-formed unknown keys are each looked up once.
      yield* Effect.forEach(Array.from({ length: 5 }), () => ingest(main, body, { "content-type": STRUCTURED }, newKey()), {
        discard: true
      })
      expect((yield* Effect.zipRight(reportNow, settle)) - afterMalformed).toBeGreaterThanOrEqual(1)
      const reply = yield* ingest(main, body, { "content-type": STRUCTURED }, "mpk_live_short")
      expect((yield* problem(reply)).message).toContain("malformed ingest key")
      expect(yield* count("telemetry_events", "id", ["never"])).toBe(0)
    }))
})
