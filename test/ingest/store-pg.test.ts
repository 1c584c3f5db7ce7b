/**
 * `EventStorePg` on a real, migrated database: every typed table and the raw log written with
 * the right columns, duplicates skipped (alone or mixed with new events), intents resolved across
 * batches, dead letters, last-seen updates and rollup dirty marks.
 */
import { SqlClient } from "@effect/sql"
import { expect, layer } from "@effect/vitest"
import { Effect, Either, Layer } from "effect"
import { exampleEvents, gatewayTelemetryPacketData, paymentAuthorizedData, requestBlockedData } from "../../schema/examples.js"
import { EventStore } from "../../src/ingest/EventStore.js"
import { EventStorePg } from "../../src/ingest/EventStorePg.js"
import { readIntents, writeFolded } from "../../src/ingest/IntentStorePg.js"
import { encodedRow, eventKey, type IngestEvent, type Route, routeOf } from "../../src/ingest/IngestEvent.js"
import { makeTestDatabase } from "../support/database.js"
import { sourceOf, wireEvent, wireIntent, wirePacket, wireUnknown } from "../support/ingestEvents.js"
import { GATEWAY, RECEIVED_AT, toIngestEvent } from "./support.js"

const StoreTest = EventStorePg.pipe(Layer.provideMerge(makeTestDatabase()))

const write = (events: ReadonlyArray<IngestEvent>, route: Route = routeOf(events[0]!)) =>
  Effect.flatMap(EventStore, (store) => store.write(route, events))

const keys = (events: ReadonlyArray<IngestEvent>) => new Set(events.map(eventKey))

const ensureGateway = (id: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.zipRight(
      sql`INSERT INTO vendors (id, name) VALUES ('v-store', 'Store test vendor') ON CONFLICT DO NOTHING`,
      sql`INSERT INTO gateways (id, vendor_id, name, ingest_key_hash)
          VALUES (${id}, 'v-store', ${id}, encode(sha256(convert_to(${id}, 'UTF8')), 'hex'))
          ON CONFLICT DO NOTHING`
    ))

const count = (table: string, where: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql.unsafe<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE ${where}`).pipe(Effect.map((rows) => rows[0]?.n ?? 0)))

const rawRows = (ids: ReadonlyArray<string>) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ id: string; type: string; gateway_id: string; event_time: Date; received_at: Date; subject: string | null; attributes: unknown; data: unknown }>`
      SELECT id, type, gateway_id, event_time, received_at, subject, attributes, data FROM telemetry_events
       WHERE id IN ${sql.in(ids)} ORDER BY id, event_time`)

const iso = (value: Date) => value.toISOString()

/** An intent's transitions in the order they were recorded. */
const transitionsOf = (intentId: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ event_id: string; from_status: string | null; to_status: string; applied: boolean }>`
      SELECT event_id, from_status, to_status, applied FROM payment_intent_transitions
       WHERE intent_id = ${intentId} ORDER BY seq`)

layer(StoreTest, { excludeTestServices: true })("EventStorePg", (it) => {
  it.effect("PaymentAuthorized → payment_authorized row and the raw log", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const event = toIngestEvent({ ...exampleEvents.PaymentAuthorized, id: "pa-1", subject: "agent-7f3a" })
      const result = yield* write([event])
      expect(result.inserted).toEqual(keys([event]))

      const [row] = yield* sql`
        SELECT event_time, received_at, source, event_id, gateway_id, agent_id, payment_id, request_id, method, route,
               amount::text AS amount, asset, network, payer, pay_to, scheme
          FROM payment_authorized WHERE event_id = 'pa-1'`
      expect(row).toEqual({
        event_time: new Date("2025-06-01T12:00:01.250Z"),
        received_at: new Date(RECEIVED_AT),
        source: sourceOf(GATEWAY),
        event_id: "pa-1",
        gateway_id: GATEWAY,
        agent_id: paymentAuthorizedData.agent_id,
        payment_id: paymentAuthorizedData.payment_id,
        request_id: paymentAuthorizedData.request_id,
        method: "GET",
        route: "/v1/weather/{city}",
        amount: "0.250000000000000000",
        asset: "USDC",
        network: "base",
        payer: paymentAuthorizedData.payer,
        pay_to: paymentAuthorizedData.pay_to,
        scheme: "exact"
      })

      const [raw] = yield* rawRows(["pa-1"])
      expect(raw).toMatchObject({
        type: "PaymentAuthorized",
        gateway_id: GATEWAY,
        subject: "agent-7f3a",
        data: paymentAuthorizedData
      })
      expect(iso(raw!.event_time)).toBe("2025-06-01T12:00:01.250Z")
      expect(iso(raw!.received_at)).toBe(new Date(RECEIVED_AT).toISOString())
      expect(raw!.attributes).toEqual({
        specversion: "1.0",
        id: "pa-1",
        source: sourceOf(GATEWAY),
        type: "PaymentAuthorized",
        time: "2025-06-01T12:00:01.250Z",
        subject: "agent-7f3a",
        datacontenttype: "application/json",
        traceparent: exampleEvents.PaymentAuthorized.traceparent
      })
    }))

  it.effect("RequestBlocked → request_blocked, optional fields as NULL", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const full = toIngestEvent(wireEvent("RequestBlocked", { id: "rb-1", time: "2025-06-01T12:00:02Z" }))
      const { agent_id: _agent, detail: _detail, client_ip: _ip, ...required } = requestBlockedData
      const bare = toIngestEvent({ ...wireEvent("RequestBlocked", { id: "rb-2", time: "2025-06-01T12:00:03Z" }), data: required })
      expect((yield* write([full, bare])).inserted).toEqual(keys([full, bare]))
      const rows = yield* sql`
        SELECT event_id, event_time, gateway_id, agent_id, request_id, method, route, reason, severity, detail, client_ip
          FROM request_blocked ORDER BY event_id`
      expect(rows).toEqual([
        {
          event_id: "rb-1",
          event_time: new Date("2025-06-01T12:00:02Z"),
          gateway_id: GATEWAY,
          agent_id: "agent-7f3a",
          request_id: "req_01HZX8M0A2C4E6G8J0L2N4Q6S8",
          method: "POST",
          route: "/v1/translate",
          reason: "insufficient_funds",
          severity: "medium",
          detail: "payment of 0.50 USDC exceeds balance 0.12 USDC",
          client_ip: "203.0.113.42"
        },
        {
          event_id: "rb-2",
          event_time: new Date("2025-06-01T12:00:03Z"),
          gateway_id: GATEWAY,
          agent_id: null,
          request_id: "req_01HZX8M0A2C4E6G8J0L2N4Q6S8",
          method: "POST",
          route: "/v1/translate",
          reason: "insufficient_funds",
          severity: "medium",
          detail: null,
          client_ip: null
        }
      ])
      expect(yield* count("telemetry_events", "id IN ('rb-1', 'rb-2')")).toBe(2)
    }))

  it.effect("SolvencyAlert → solvency_alerts with money as numeric", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const event = toIngestEvent(wireEvent("SolvencyAlert", { id: "sa-1", time: "2025-06-01T12:00:03Z" }, { required: "2.5" }))
      expect((yield* write([event])).inserted).toEqual(keys([event]))
      const [row] = yield* sql`
        SELECT event_id, gateway_id, agent_id, kind, severity, asset, network, balance::text AS balance,
               threshold::text AS threshold, required::text AS required, message
          FROM solvency_alerts WHERE event_id = 'sa-1'`
      expect(row).toEqual({
        event_id: "sa-1",
        gateway_id: GATEWAY,
        agent_id: "agent-7f3a",
        kind: "low_balance",
        severity: "warning",
        asset: "USDC",
        network: "base",
        balance: "1.750000000000000000",
        threshold: "5.000000000000000000",
        required: "2.500000000000000000",
        message: "agent balance below 5 USDC"
      })
      expect(yield* count("telemetry_events", "id = 'sa-1'")).toBe(1)
    }))

  it.effect("GatewayTelemetryPacket → gateway_telemetry; config → gateways.config and its history", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* ensureGateway(GATEWAY)
      const packet = toIngestEvent(wirePacket({ id: "tp-1", time: "2025-06-01T12:01:00Z" }))
      expect((yield* write([packet])).inserted).toEqual(keys([packet]))

      const [row] = yield* sql`
        SELECT window_start, gateway_id, source, event_id, received_at, window_seconds, gateway_version,
               requests_total::int AS requests_total, requests_paid::int AS requests_paid,
               requests_blocked::int AS requests_blocked, requests_error::int AS requests_error,
               payments_count::int AS payments_count, unique_agents::int AS unique_agents, revenue::text AS revenue,
               asset, latency_p50_ms, latency_p90_ms, latency_p95_ms, latency_p99_ms, latency_max_ms, routes, config
          FROM gateway_telemetry WHERE event_id = 'tp-1'`
      const d = gatewayTelemetryPacketData
      expect(row).toEqual({
        window_start: new Date("2025-06-01T12:01:00Z"),
        gateway_id: GATEWAY,
        source: sourceOf(GATEWAY),
        event_id: "tp-1",
        received_at: new Date(RECEIVED_AT),
        window_seconds: 60,
        gateway_version: "1.4.2",
        requests_total: d.requests_total,
        requests_paid: d.requests_paid,
        requests_blocked: d.requests_blocked,
        requests_error: d.requests_error,
        payments_count: d.payments_count,
        unique_agents: d.unique_agents,
        revenue: "295.000000000000000000",
        asset: "USDC",
        latency_p50_ms: 18.5,
        latency_p90_ms: 41,
        latency_p95_ms: 57.2,
        latency_p99_ms: 120,
        latency_max_ms: 310,
        routes: d.routes,
        config: d.config
      })
      expect(yield* count("telemetry_events", "id = 'tp-1' AND type = 'GatewayTelemetryPacket'")).toBe(1)

      const gateway = () =>
        sql<{ config: unknown; config_revision: string; config_updated_at: Date }>`
          SELECT config, config_revision, config_updated_at FROM gateways WHERE id = ${GATEWAY}`.pipe(Effect.map((rows) => rows[0]))
      expect(yield* gateway()).toEqual({
        config: d.config.settings,
        config_revision: d.config.revision,
        config_updated_at: new Date("2025-06-01T12:01:00Z")
      })

      // A newer revision replaces the current config; an older one arriving late only joins the history.
      const newer = { revision: "cfg-2", settings: { relayer_url: "https://relayer-2.example/v1" } }
      const older = { revision: "cfg-0", settings: { relayer_url: "https://relayer-0.example/v1" } }
      yield* write([toIngestEvent(wirePacket({ id: "tp-2", time: "2025-06-01T12:02:00Z" }, { config: newer }))])
      yield* write([toIngestEvent(wirePacket({ id: "tp-0", time: "2025-06-01T11:59:00Z" }, { config: older }))])
      // A packet without config leaves it alone.
      const { config: _config, ...noConfig } = d
      yield* write([toIngestEvent({ ...wirePacket({ id: "tp-3", time: "2025-06-01T12:03:00Z" }), data: { ...noConfig, window_start: "2025-06-01T12:03:00Z" } })])
      expect(yield* gateway()).toEqual({
        config: newer.settings,
        config_revision: "cfg-2",
        config_updated_at: new Date("2025-06-01T12:02:00Z")
      })
      const history = yield* sql<{ revision: string; config: unknown; event_time: Date; received_at: Date }>`
        SELECT revision, config, event_time, received_at FROM gateway_config_history WHERE gateway_id = ${GATEWAY} ORDER BY event_time`
      expect(history).toEqual([
        { revision: "cfg-0", config: older, event_time: new Date("2025-06-01T11:59:00Z"), received_at: new Date(RECEIVED_AT) },
        { revision: d.config.revision, config: d.config, event_time: new Date("2025-06-01T12:01:00Z"), received_at: new Date(RECEIVED_AT) },
        { revision: "cfg-2", config: newer, event_time: new Date("2025-06-01T12:02:00Z"), received_at: new Date(RECEIVED_AT) }
      ])
      expect(yield* count("gateway_telemetry", `gateway_id = '${GATEWAY}' AND event_id LIKE 'tp-%'`)).toBe(4)
    }))

  it.effect("a packet without window_seconds is stored with the contract's default; one with it keeps its own", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const { window_seconds: _omitted, config: _config, ...bare } = gatewayTelemetryPacketData
      yield* write([
        toIngestEvent({ ...wirePacket({ id: "ws-default", time: "2025-06-01T12:05:00Z" }), data: { ...bare, window_start: "2025-06-01T12:05:00Z" } }),
        toIngestEvent({ ...wirePacket({ id: "ws-300", time: "2025-06-01T12:06:00Z" }), data: { ...bare, window_start: "2025-06-01T12:06:00Z", window_seconds: 300 } })
      ])
      const rows = yield* sql<{ event_id: string; window_seconds: number; raw_has_window: boolean }>`
        SELECT g.event_id, g.window_seconds, (t.data ? 'window_seconds') AS raw_has_window
          FROM gateway_telemetry g JOIN telemetry_events t ON t.source = g.source AND t.id = g.event_id
         WHERE g.event_id LIKE 'ws-%' ORDER BY g.event_id`
      // The raw log keeps the packet as sent; the typed row has the default filled in.
      expect(rows).toEqual([
        { event_id: "ws-300", window_seconds: 300, raw_has_window: true },
        { event_id: "ws-default", window_seconds: 60, raw_has_window: false }
      ])
    }))

  it.effect("two config revisions in one batch (a gateway sending its backlog) both join the history", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const gateway = "gw-backlog"
      yield* ensureGateway(gateway)
      const packet = (id: string, time: string, revision: string) =>
        toIngestEvent(
          wirePacket({ id, time, gateway }, { config: { revision, settings: { revision } } }),
          { gatewayId: gateway }
        )
      yield* write([packet("bl-1", "2025-06-01T13:01:00Z", "rev-a"), packet("bl-2", "2025-06-01T13:02:00Z", "rev-b")])
      const history = yield* sql<{ revision: string }>`
        SELECT revision FROM gateway_config_history WHERE gateway_id = ${gateway} ORDER BY event_time`
      expect(history.map((h) => h.revision)).toEqual(["rev-a", "rev-b"])
      const [current] = yield* sql`SELECT config_revision FROM gateways WHERE id = ${gateway}`
      expect(current).toEqual({ config_revision: "rev-b" })
    }))

  it.effect("PaymentIntent → payment_intents + a transition per event, and the raw log", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const submitted = toIngestEvent(wireIntent({ id: "pi-1", time: "2025-06-01T12:00:04Z" }, "int-store-1", "submitted", { tx_hash: "0xabc" }))
      expect((yield* write([submitted])).inserted).toEqual(keys([submitted]))
      const [row] = yield* sql`
        SELECT gateway_id, intent_id, agent_id, status, status_rank, amount::text AS amount, asset, network, method, route,
               tx_hash, failure_reason, expires_at, created_at, updated_at, last_event_time, received_at
          FROM payment_intents WHERE intent_id = 'int-store-1'`
      expect(row).toEqual({
        gateway_id: GATEWAY,
        intent_id: "int-store-1",
        agent_id: "agent-7f3a",
        status: "submitted",
        status_rank: 1,
        amount: "12.500000000000000000",
        asset: "USDC",
        network: "base",
        method: "POST",
        route: "/v1/batch/render",
        tx_hash: "0xabc",
        failure_reason: null,
        expires_at: new Date("2025-06-01T12:15:00Z"),
        created_at: new Date("2025-06-01T12:00:04Z"),
        updated_at: new Date("2025-06-01T12:00:04Z"),
        last_event_time: new Date("2025-06-01T12:00:04Z"),
        received_at: new Date(RECEIVED_AT)
      })
      const transitions = yield* sql`
        SELECT gateway_id, intent_id, source, event_id, event_time, received_at, from_status, to_status, applied
          FROM payment_intent_transitions WHERE intent_id = 'int-store-1'`
      expect(transitions).toEqual([{
        gateway_id: GATEWAY,
        intent_id: "int-store-1",
        source: sourceOf(GATEWAY),
        event_id: "pi-1",
        event_time: new Date("2025-06-01T12:00:04Z"),
        received_at: new Date(RECEIVED_AT),
        from_status: null,
        to_status: "submitted",
        applied: true
      }])
      expect(yield* count("telemetry_events", "id = 'pi-1' AND type = 'PaymentIntent'")).toBe(1)
    }))

  it.effect("intents across batches, out of order: forward only, earliest created_at, every transition kept", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const at = (id: string, time: string, status: "pending" | "submitted" | "settled" | "failed", receivedAt = RECEIVED_AT) =>
        toIngestEvent(wireIntent({ id, time }, "int-ooo", status), { receivedAt })
      const settled = at("ooo-settled", "2025-06-01T12:00:30Z", "settled", RECEIVED_AT + 1000)
      const pending = at("ooo-pending", "2025-06-01T12:00:10Z", "pending", RECEIVED_AT + 2000)
      const submitted = at("ooo-submitted", "2025-06-01T12:00:20Z", "submitted", RECEIVED_AT + 2000)
      const failed = at("ooo-failed", "2025-06-01T12:00:40Z", "failed", RECEIVED_AT + 3000)
      yield* write([settled])
      expect((yield* write([pending, submitted])).inserted).toEqual(keys([pending, submitted]))
      yield* write([failed])

      const [row] = yield* sql`
        SELECT status, status_rank, created_at, updated_at, last_event_time, received_at, failure_reason
          FROM payment_intents WHERE intent_id = 'int-ooo'`
      expect(row).toEqual({
        status: "settled",
        status_rank: 2,
        created_at: new Date("2025-06-01T12:00:10Z"),
        updated_at: new Date("2025-06-01T12:00:30Z"),
        last_event_time: new Date("2025-06-01T12:00:40Z"),
        received_at: new Date(RECEIVED_AT + 1000),
        failure_reason: null
      })
      expect(yield* transitionsOf("int-ooo")).toEqual([
        { event_id: "ooo-settled", from_status: null, to_status: "settled", applied: true },
        { event_id: "ooo-pending", from_status: "settled", to_status: "pending", applied: false },
        { event_id: "ooo-submitted", from_status: "settled", to_status: "submitted", applied: false },
        { event_id: "ooo-failed", from_status: "settled", to_status: "failed", applied: false }
      ])

      // Re-sending a batch changes nothing: no new transitions, no status change.
      expect((yield* write([pending, submitted])).inserted.size).toBe(0)
      expect(yield* count("payment_intent_transitions", "intent_id = 'int-ooo'")).toBe(4)
      expect(yield* count("telemetry_events", "id LIKE 'ooo-%'")).toBe(4)
    }))

  it.effect("an intent's times keep their microseconds when a later event rewrites its row", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const pending = toIngestEvent(
        wireIntent({ id: "us-pending", time: "2025-06-01T12:00:10.123456Z" }, "int-us", "pending", { expires_at: "2025-06-01T13:00:00.654321Z" })
      )
      // Without an expires_at of its own: the row keeps the one read back.
      const wire = wireIntent({ id: "us-submitted", time: "2025-06-01T12:00:20.000001Z" }, "int-us", "submitted")
      const { expires_at: _, ...data } = wire["data"] as Record<string, unknown>
      const submitted = toIngestEvent({ ...wire, data })
      yield* write([pending])
      yield* write([submitted])
      const [row] = yield* sql<{ expires_at: string; created_at: string; updated_at: string }>`
        SELECT to_char(expires_at AT TIME ZONE 'UTC', 'HH24:MI:SS.US') AS expires_at,
               to_char(created_at AT TIME ZONE 'UTC', 'HH24:MI:SS.US') AS created_at,
               to_char(updated_at AT TIME ZONE 'UTC', 'HH24:MI:SS.US') AS updated_at
          FROM payment_intents WHERE intent_id = 'int-us'`
      expect(row).toEqual({ expires_at: "13:00:00.654321", created_at: "12:00:10.123456", updated_at: "12:00:20.000001" })
    }))

  it.effect("an intent changed by another writer between read and write: nothing written, and the flush folds again", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const at = (id: string, time: string, status: "pending" | "submitted" | "settled") =>
        toIngestEvent(wireIntent({ id, time }, "int-race", status))
      const pending = at("race-pending", "2025-06-01T12:01:00Z", "pending")
      const submitted = at("race-submitted", "2025-06-01T12:01:10Z", "submitted")
      const settled = at("race-settled", "2025-06-01T12:01:20Z", "settled")
      yield* write([pending])

      // This flush reads the pending intent; another writer settles it before this one writes.
      const read = yield* readIntents(sql, [submitted])
      expect([...read.current.values()].map((row) => row.status)).toEqual(["pending"])
      yield* write([settled])
      expect(yield* writeFolded(sql, read, [submitted])).toBe("stale")
      expect(yield* count("payment_intent_transitions", "event_id = 'race-submitted'")).toBe(0)
      expect(yield* count("telemetry_events", "id = 'race-submitted'")).toBe(0)

      // An intent absent at the read and inserted meanwhile is a change too.
      const first = toIngestEvent(wireIntent({ id: "race-new-1", time: "2025-06-01T12:02:00Z" }, "int-race-new", "pending"))
      const second = toIngestEvent(wireIntent({ id: "race-new-2", time: "2025-06-01T12:02:05Z" }, "int-race-new", "submitted"))
      const readNew = yield* readIntents(sql, [second])
      expect(readNew.current.size).toBe(0)
      yield* write([first])
      expect(yield* writeFolded(sql, readNew, [second])).toBe("stale")

      // The store's own write reads again: the late submitted event is recorded against "settled".
      expect((yield* write([submitted])).inserted).toEqual(keys([submitted]))
      expect(yield* transitionsOf("int-race")).toEqual([
        { event_id: "race-pending", from_status: null, to_status: "pending", applied: true },
        { event_id: "race-settled", from_status: "pending", to_status: "settled", applied: true },
        { event_id: "race-submitted", from_status: "settled", to_status: "submitted", applied: false }
      ])
      const [row] = yield* sql<{ status: string }>`SELECT status FROM payment_intents WHERE intent_id = 'int-race'`
      expect(row?.status).toBe("settled")
    }))

  it.effect("an unknown type goes to the raw log only", () =>
    Effect.gen(function*() {
      const event = toIngestEvent(wireUnknown({ id: "other-1", time: "2025-06-01T12:05:00Z" }))
      expect((yield* write([event], "Other")).inserted).toEqual(keys([event]))
      const [raw] = yield* rawRows(["other-1"])
      expect(raw).toMatchObject({ type: "com.example.GatewayRestarted", gateway_id: GATEWAY, data: { uptime_s: 0 } })
      expect(raw!.attributes).toMatchObject({ region: "eu1", attempt: 1 })
      for (const table of ["payment_authorized", "request_blocked", "solvency_alerts", "gateway_telemetry"]) {
        expect(yield* count(table, "event_id = 'other-1'"), table).toBe(0)
      }
    }))

  it.effect("re-writing the same events inserts nothing, in every route", () =>
    Effect.gen(function*() {
      const time = "2025-06-01T12:06:00Z"
      const batches: ReadonlyArray<readonly [Route, ReadonlyArray<IngestEvent>]> = [
        ["PaymentAuthorized", [toIngestEvent(wireEvent("PaymentAuthorized", { id: "dup-pa", time }))]],
        ["RequestBlocked", [toIngestEvent(wireEvent("RequestBlocked", { id: "dup-rb", time }))]],
        ["SolvencyAlert", [toIngestEvent(wireEvent("SolvencyAlert", { id: "dup-sa", time }))]],
        ["PaymentIntent", [toIngestEvent(wireIntent({ id: "dup-pi", time }, "int-dup", "pending"))]],
        ["GatewayTelemetryPacket", [toIngestEvent(wirePacket({ id: "dup-tp", time }))]],
        ["Other", [toIngestEvent(wireUnknown({ id: "dup-other", time }))]]
      ]
      for (const [route, events] of batches) {
        expect((yield* write(events, route)).inserted, route).toEqual(keys(events))
        // A retry arrives later: same events, a later receive time.
        const retried = events.map((event) => ({ ...event, receivedAt: event.receivedAt + 60_000 }))
        expect((yield* write(retried, route)).inserted.size, route).toBe(0)
      }
      expect(yield* count("telemetry_events", "id LIKE 'dup-%'")).toBe(6)
      expect(yield* count("payment_authorized", "event_id = 'dup-pa'")).toBe(1)
      expect(yield* count("gateway_telemetry", "event_id = 'dup-tp'")).toBe(1)
      expect(yield* count("payment_intent_transitions", "event_id = 'dup-pi'")).toBe(1)
    }))

  it.effect("a batch with a duplicate and new events stores the new ones and reports only them", () =>
    Effect.gen(function*() {
      const time = "2025-06-01T12:07:00Z"
      const [old, fresh1, fresh2] = ["mix-0", "mix-1", "mix-2"].map((id) =>
        toIngestEvent(wireEvent("PaymentAuthorized", { id, time }))
      ) as [IngestEvent, IngestEvent, IngestEvent]
      yield* write([old])
      const result = yield* write([fresh1, old, fresh2])
      expect(result.inserted).toEqual(keys([fresh1, fresh2]))
      expect(yield* count("payment_authorized", "event_id LIKE 'mix-%'")).toBe(3)
      expect(yield* count("telemetry_events", "id LIKE 'mix-%'")).toBe(3)

      const [oldPacket, newPacket] = ["mixp-0", "mixp-1"].map((id) => toIngestEvent(wirePacket({ id, time })))
      yield* write([oldPacket!])
      expect((yield* write([oldPacket!, newPacket!])).inserted).toEqual(keys([newPacket!]))
    }))

  it.effect("an intent batch mixing a duplicate with new events: only the new ones are logged, applied and reported", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const old = toIngestEvent(wireIntent({ id: "mixi-0", time: "2025-06-01T12:08:00Z" }, "int-mix-a", "pending"))
      yield* write([old], "PaymentIntent")
      const submitted = toIngestEvent(wireIntent({ id: "mixi-1", time: "2025-06-01T12:08:05Z" }, "int-mix-a", "submitted", { tx_hash: "0xdef" }))
      const other = toIngestEvent(wireIntent({ id: "mixi-2", time: "2025-06-01T12:08:06Z" }, "int-mix-b", "pending"))
      // With the rows as admission encodes them, in the batch's order.
      const batch = [submitted, old, other]
      const result = yield* Effect.flatMap(EventStore, (store) => store.write("PaymentIntent", batch, batch.map((e) => Buffer.from(encodedRow(e)))))
      expect(result.inserted).toEqual(keys([submitted, other]))
      expect(yield* count("telemetry_events", "id LIKE 'mixi-%'")).toBe(3)
      expect(yield* count("payment_intent_transitions", "event_id LIKE 'mixi-%'")).toBe(3)
      const intents = yield* sql<{ intent_id: string; status: string; tx_hash: string | null }>`
        SELECT intent_id, status, tx_hash FROM payment_intents WHERE intent_id LIKE 'int-mix-%' ORDER BY intent_id`
      expect(intents).toEqual([
        { intent_id: "int-mix-a", status: "submitted", tx_hash: "0xdef" },
        { intent_id: "int-mix-b", status: "pending", tx_hash: null }
      ])
      // The whole batch again: nothing new anywhere.
      expect((yield* write(batch, "PaymentIntent")).inserted.size).toBe(0)
      expect(yield* count("telemetry_events", "id LIKE 'mixi-%'")).toBe(3)
    }))

  it.effect("an event without time is still a duplicate when retried (its time is the receive time)", () =>
    Effect.gen(function*() {
      // CloudEvents makes `time` optional; unknown types may omit it. A retry arrives later.
      const first = toIngestEvent(wireUnknown({ id: "no-time-1" }), { receivedAt: RECEIVED_AT })
      const retry = toIngestEvent(wireUnknown({ id: "no-time-1" }), { receivedAt: RECEIVED_AT + 30_000 })
      expect((yield* write([first], "Other")).inserted).toEqual(keys([first]))
      expect((yield* write([retry], "Other")).inserted.size).toBe(0)
      expect(yield* count("telemetry_events", "id = 'no-time-1'")).toBe(1)
    }))

  it.effect("a known event re-sent with another time is a duplicate and is not logged twice", () =>
    Effect.gen(function*() {
      // SDKs stamp `time` when an event object is built; a sender that rebuilds it on retry changes it.
      const first = toIngestEvent(wireEvent("PaymentAuthorized", { id: "retime-1", time: "2025-06-01T12:08:00Z" }))
      const retry = toIngestEvent(wireEvent("PaymentAuthorized", { id: "retime-1", time: "2025-06-01T12:08:05Z" }))
      yield* write([first])
      expect((yield* write([retry])).inserted.size).toBe(0)
      expect(yield* count("payment_authorized", "event_id = 'retime-1'")).toBe(1)
      expect(yield* count("telemetry_events", "id = 'retime-1'")).toBe(1)
    }))

  it.effect("dead letters are stored with their reason", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const store = yield* EventStore
      yield* store.deadLetter([
        {
          receivedAt: RECEIVED_AT,
          gatewayId: GATEWAY,
          source: sourceOf(GATEWAY),
          eventId: "dl-1",
          type: "PaymentAuthorized",
          reason: "must be a decimal string",
          field: "data.amount",
          payload: "{\"id\":\"dl-1\"}",
          payloadBytes: 12
        },
        {
          receivedAt: RECEIVED_AT,
          gatewayId: undefined,
          source: undefined,
          eventId: undefined,
          type: undefined,
          reason: "must be a JSON object (a CloudEvent)",
          field: "event",
          payload: "42",
          payloadBytes: 2
        }
      ])
      yield* store.deadLetter([])
      const rows = yield* sql`
        SELECT received_at, gateway_id, source, event_id, type, reason, field, payload, payload_bytes
          FROM dead_letters ORDER BY id`
      expect(rows).toEqual([
        {
          received_at: new Date(RECEIVED_AT),
          gateway_id: GATEWAY,
          source: sourceOf(GATEWAY),
          event_id: "dl-1",
          type: "PaymentAuthorized",
          reason: "must be a decimal string",
          field: "data.amount",
          payload: "{\"id\":\"dl-1\"}",
          payload_bytes: 12
        },
        {
          received_at: new Date(RECEIVED_AT),
          gateway_id: null,
          source: null,
          event_id: null,
          type: null,
          reason: "must be a JSON object (a CloudEvent)",
          field: "event",
          payload: "42",
          payload_bytes: 2
        }
      ])
    }))

  it.effect("a dead letter whose payload PostgreSQL text cannot hold (NUL, lone surrogate) is still stored", () =>
    Effect.gen(function*() {
      // Dead letters hold whatever was sent; one unstorable payload must not block the others.
      const store = yield* EventStore
      const letter = (eventId: string, payload: string) => ({
        receivedAt: RECEIVED_AT,
        gatewayId: GATEWAY,
        source: undefined,
        eventId,
        type: undefined,
        reason: "must be a JSON object (a CloudEvent)",
        field: "event",
        payload,
        payloadBytes: Buffer.byteLength(payload)
      })
      const result = yield* Effect.either(store.deadLetter([
        letter("dl-nul", "a\u0000b"),
        letter("dl-surrogate", "a\ud800b"),
        letter("dl-plain", "plain")
      ]))
      expect(Either.isRight(result), Either.isLeft(result) ? result.left.message : "").toBe(true)
      expect(yield* count("dead_letters", "event_id IN ('dl-nul', 'dl-surrogate', 'dl-plain')")).toBe(3)
    }))

  it.effect("touchGateways moves last_seen_at forward only and keeps the last known version", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const store = yield* EventStore
      yield* ensureGateway("gw-touch-a")
      yield* ensureGateway("gw-touch-b")
      const seenAt = Date.parse("2025-06-01T12:30:00Z")
      yield* store.touchGateways(new Map([
        ["gw-touch-a", { lastSeenAt: seenAt, version: "2.0.0" }],
        ["gw-touch-b", { lastSeenAt: seenAt, version: undefined }],
        ["gw-unknown", { lastSeenAt: seenAt, version: "9.9.9" }]
      ]))
      yield* store.touchGateways(new Map([["gw-touch-a", { lastSeenAt: seenAt - 60_000, version: undefined }]]))
      const rows = yield* sql`
        SELECT id, last_seen_at, version FROM gateways WHERE id IN ('gw-touch-a', 'gw-touch-b') ORDER BY id`
      expect(rows).toEqual([
        { id: "gw-touch-a", last_seen_at: new Date(seenAt), version: "2.0.0" },
        { id: "gw-touch-b", last_seen_at: new Date(seenAt), version: null }
      ])
      yield* store.touchGateways(new Map([["gw-touch-a", { lastSeenAt: seenAt + 60_000, version: "2.1.0" }]]))
      const [moved] = yield* sql`SELECT last_seen_at, version FROM gateways WHERE id = 'gw-touch-a'`
      expect(moved).toEqual({ last_seen_at: new Date(seenAt + 60_000), version: "2.1.0" })
    }))

  it.effect("rollup_dirty is marked for closed hours only", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const soon = Date.now() + 60_000 // the current hour (or the next): not closed
      const late = toIngestEvent(wireEvent("PaymentAuthorized", { id: "dirty-late", time: "2025-06-01T08:15:00Z", gateway: "gw-dirty" }), { gatewayId: "gw-dirty" })
      const current = toIngestEvent(
        wireEvent("PaymentAuthorized", { id: "dirty-now", time: new Date(soon).toISOString(), gateway: "gw-dirty-now" }),
        { gatewayId: "gw-dirty-now", receivedAt: Date.now() }
      )
      yield* write([late, current])
      const latePacket = toIngestEvent(wirePacket({ id: "dirty-packet", time: "2025-06-01T09:59:00Z", gateway: "gw-dirty" }), { gatewayId: "gw-dirty" })
      const currentPacket = toIngestEvent(
        wirePacket({ id: "dirty-packet-now", time: new Date(soon).toISOString(), gateway: "gw-dirty-now" }),
        { gatewayId: "gw-dirty-now", receivedAt: Date.now() }
      )
      yield* write([latePacket, currentPacket])
      const marks = yield* sql<{ gateway_id: string; hour: Date }>`
        SELECT gateway_id, hour FROM rollup_dirty WHERE gateway_id LIKE 'gw-dirty%' ORDER BY gateway_id, hour`
      expect(marks).toEqual([
        { gateway_id: "gw-dirty", hour: new Date("2025-06-01T08:00:00Z") },
        { gateway_id: "gw-dirty", hour: new Date("2025-06-01T09:00:00Z") }
      ])
      // A duplicate does not mark again (the rollup job may have cleared the mark meanwhile).
      yield* sql`DELETE FROM rollup_dirty WHERE gateway_id = 'gw-dirty'`
      yield* write([late])
      expect(yield* count("rollup_dirty", "gateway_id = 'gw-dirty'")).toBe(0)
    }))
})
