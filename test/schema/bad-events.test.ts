import { Either, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { exampleEvents, exampleUnknownEvent } from "../../schema/examples.js"
import {
  CloudEvent,
  decodeCloudEvent,
  describeParseError,
  describeParseIssues,
  GatewayTelemetryPacket,
  MAX_FIELD_LENGTH,
  MAX_REASON_LENGTH,
  preview,
  RawEventBatch,
  validateKnownEvent
} from "../../schema/index.js"
import { clone, decodeRejection, ingestOne } from "./helpers.js"

type Json = Record<string, unknown>

type Example = keyof typeof exampleEvents

const event = (type: Example, patch: (e: Json) => void = () => {}): Json => {
  const e: Json = clone(exampleEvents[type])
  patch(e)
  return e
}
/** The example of `type` with its data patched. */
const withData = (type: Example, patch: (d: Json) => void): Json => {
  const base: Json = clone(exampleEvents[type])
  const data: Json = clone(exampleEvents[type].data)
  patch(data)
  return { ...base, data }
}

const packet = exampleEvents.GatewayTelemetryPacket.data
const route = packet.routes[0]

const table: ReadonlyArray<readonly [name: string, input: unknown, field: string, reason?: string]> = [
  // envelope
  ["not an object", "PaymentAuthorized", "event"],
  ["missing specversion", event("PaymentAuthorized", (e) => delete e.specversion), "specversion", "is missing"],
  ["specversion 0.3", event("PaymentAuthorized", (e) => (e.specversion = "0.3")), "specversion", "\"1.0\""],
  ["specversion as number", event("PaymentAuthorized", (e) => (e.specversion = 1)), "specversion"],
  ["missing id", event("PaymentAuthorized", (e) => delete e.id), "id", "is missing"],
  ["empty id", event("PaymentAuthorized", (e) => (e.id = "")), "id", "must not be empty"],
  ["id too long", event("PaymentAuthorized", (e) => (e.id = "x".repeat(513))), "id", "at most 512 bytes"],
  // Limits are in UTF-8 bytes: 200 characters of "€" are 600 bytes.
  ["id too long in bytes", event("PaymentAuthorized", (e) => (e.id = "€".repeat(200))), "id", "at most 512 bytes"],
  [
    "source too long in bytes",
    event("PaymentAuthorized", (e) => (e.source = `machpay://gateway/gw-eu-1/${"é".repeat(250)}`)),
    "source",
    "at most 512 bytes"
  ],
  ["type too long in bytes", event("PaymentAuthorized", (e) => (e.type = "ü".repeat(129))), "type", "at most 256 bytes"],
  ["empty source", event("PaymentAuthorized", (e) => (e.source = "")), "source"],
  ["source with spaces", event("PaymentAuthorized", (e) => (e.source = "my gateway")), "source"],
  ["missing type", event("PaymentAuthorized", (e) => delete e.type), "type", "is missing"],
  ["time Feb 30", event("PaymentAuthorized", (e) => (e.time = "2024-02-30T00:00:00Z")), "time", "RFC 3339"],
  ["time nope", event("PaymentAuthorized", (e) => (e.time = "nope")), "time", "RFC 3339"],
  // RFC 3339 allows it; PostgreSQL does not store it (SQLSTATE 22009, after the acknowledgement).
  ["time offset +16:00", event("PaymentAuthorized", (e) => (e.time = "2025-06-01T12:00:00+16:00")), "time", "±15:59"],
  ["time without offset", event("PaymentAuthorized", (e) => (e.time = "2025-06-01T12:00:00")), "time"],
  ["time as epoch number", event("PaymentAuthorized", (e) => (e.time = 1748779200000)), "time"],
  ["known type without time", event("PaymentAuthorized", (e) => delete e.time), "time", "is missing"],
  ["dataschema not absolute", event("PaymentAuthorized", (e) => (e.dataschema = "schemas/x.json")), "dataschema"],
  ["empty subject", event("PaymentAuthorized", (e) => (e.subject = "")), "subject"],
  ["extension TraceParent", event("PaymentAuthorized", (e) => (e.TraceParent = "x")), "TraceParent", "TraceParent"],
  ["extension my_ext", { ...exampleUnknownEvent, my_ext: "x" }, "my_ext", "my_ext"],
  ["extension name > 20 chars", { ...exampleUnknownEvent, abcdefghijklmnopqrstu: 1 }, "abcdefghijklmnopqrstu"],
  ["extension value object", { ...exampleUnknownEvent, region: { eu: 1 } }, "region", "extension value"],
  ["extension value float", { ...exampleUnknownEvent, attempt: 1.5 }, "attempt", "extension value"],
  ["extension value null", { ...exampleUnknownEvent, attempt: null }, "attempt"],
  ["data and data_base64", { ...exampleUnknownEvent, data_base64: "aGVsbG8=" }, "data_base64", "mutually exclusive"],
  ["bad base64", { ...event("PaymentAuthorized", (e) => delete e.data), data_base64: "not base64!" }, "data_base64", "base64"],
  ["bad traceparent", event("PaymentAuthorized", (e) => (e.traceparent = "00-abc-01")), "traceparent", "traceparent"],
  ["known type without data", event("PaymentAuthorized", (e) => delete e.data), "data", "is missing"],
  ["known type with null data", event("PaymentAuthorized", (e) => (e.data = null)), "data"],
  // PaymentAuthorized
  ["money as number", withData("PaymentAuthorized", (d) => (d.amount = 1.5)), "data.amount", "must be a decimal string such as \"0.25\""],
  ["money 1e5", withData("PaymentAuthorized", (d) => (d.amount = "1e5")), "data.amount", "decimal string"],
  ["money -1", withData("PaymentAuthorized", (d) => (d.amount = "-1")), "data.amount", "decimal string"],
  ["money 19 decimals", withData("PaymentAuthorized", (d) => (d.amount = `0.${"5".repeat(19)}`)), "data.amount"],
  ["money 21 integer digits", withData("PaymentAuthorized", (d) => (d.amount = "9".repeat(21))), "data.amount"],
  ["missing gateway_id", withData("PaymentAuthorized", (d) => delete d.gateway_id), "data.gateway_id", "is missing"],
  ["gateway_id with spaces", withData("PaymentAuthorized", (d) => (d.gateway_id = "gw 1")), "data.gateway_id"],
  ["agent_id too long", withData("PaymentAuthorized", (d) => (d.agent_id = "a".repeat(129))), "data.agent_id"],
  ["method FETCH", withData("PaymentAuthorized", (d) => (d.method = "FETCH")), "data.method", "must be one of"],
  ["route without slash", withData("PaymentAuthorized", (d) => (d.route = "v1/x")), "data.route"],
  ["asset with space", withData("PaymentAuthorized", (d) => (d.asset = "US DC")), "data.asset"],
  ["network uppercase", withData("PaymentAuthorized", (d) => (d.network = "Base")), "data.network"],
  ["payer too long", withData("PaymentAuthorized", (d) => (d.payer = "0".repeat(129))), "data.payer"],
  ["optional field null", withData("PaymentAuthorized", (d) => (d.scheme = null)), "data.scheme"],
  // RequestBlocked
  ["bad block reason", withData("RequestBlocked", (d) => (d.reason = "because")), "data.reason", "insufficient_funds"],
  ["bad block severity", withData("RequestBlocked", (d) => (d.severity = "warning")), "data.severity"],
  ["detail too long", withData("RequestBlocked", (d) => (d.detail = "x".repeat(1025))), "data.detail", "1024"],
  // SolvencyAlert
  ["alert severity high", withData("SolvencyAlert", (d) => (d.severity = "high")), "data.severity", "\"warning\""],
  ["alert kind", withData("SolvencyAlert", (d) => (d.kind = "broke")), "data.kind"],
  ["alert required as number", withData("SolvencyAlert", (d) => (d.required = 3)), "data.required", "decimal string"],
  // PaymentIntent
  ["intent status done", withData("PaymentIntent", (d) => (d.status = "done")), "data.status", "pending"],
  ["intent expires_at bad", withData("PaymentIntent", (d) => (d.expires_at = "tomorrow")), "data.expires_at"],
  ["intent missing intent_id", withData("PaymentIntent", (d) => delete d.intent_id), "data.intent_id"],
  // GatewayTelemetryPacket
  ["paid > total", withData("GatewayTelemetryPacket", (d) => (d.requests_paid = 5000)), "data.requests_paid", "requests_total"],
  ["blocked > total", withData("GatewayTelemetryPacket", (d) => (d.requests_blocked = 5000)), "data.requests_blocked", "requests_total"],
  ["too many routes", withData("GatewayTelemetryPacket", (d) => (d.routes = Array.from({ length: 501 }, () => route))), "data.routes", "at most 500"],
  ["routes add up above total", withData("GatewayTelemetryPacket", (d) => (d.requests_total = 1249)), "data.routes", "requests_total"],
  ["route paid > requests", withData("GatewayTelemetryPacket", (d) => (d.routes = [{ ...route, paid: 2000 }])), "data.routes.0.paid", "requests"],
  ["route revenue number", withData("GatewayTelemetryPacket", (d) => (d.routes = [{ ...route, revenue: 240 }])), "data.routes.0.revenue", "decimal string"],
  ["window_seconds 0", withData("GatewayTelemetryPacket", (d) => (d.window_seconds = 0)), "data.window_seconds", "between 1 and 3600"],
  ["window_seconds 90.5", withData("GatewayTelemetryPacket", (d) => (d.window_seconds = 90.5)), "data.window_seconds", "integer"],
  ["negative count", withData("GatewayTelemetryPacket", (d) => (d.unique_agents = -1)), "data.unique_agents", "≥ 0"],
  ["fractional count", withData("GatewayTelemetryPacket", (d) => (d.requests_total = 1.5)), "data.requests_total", "integer"],
  // Values whose sums would overflow the rollups (bigint, float8) for every tenant.
  [
    "count above a billion",
    withData("GatewayTelemetryPacket", (d) => (d.requests_total = Number.MAX_SAFE_INTEGER)),
    "data.requests_total",
    "at most 1000000000"
  ],
  [
    "latency of 1e308 ms",
    withData("GatewayTelemetryPacket", (d) => (d.latency_ms = { p50: 1e308, p90: 1e308, p95: 1e308, p99: 1e308, max: 1e308 })),
    "data.latency_ms.p50",
    "at most 86400000"
  ],
  [
    "route latency above a day",
    withData("GatewayTelemetryPacket", (d) => (d.routes = [{ ...route, latency_p99_ms: 1e9 }])),
    "data.routes.0.latency_p99_ms",
    "at most 86400000"
  ],
  ["latency p50 > p90", withData("GatewayTelemetryPacket", (d) => (d.latency_ms = { ...packet.latency_ms, p50: 50 })), "data.latency_ms.p50", "p90"],
  ["latency missing max", withData("GatewayTelemetryPacket", (d) => (d.latency_ms = { p50: 1, p90: 2, p95: 3, p99: 4 })), "data.latency_ms.max", "is missing"],
  ["window_start nope", withData("GatewayTelemetryPacket", (d) => (d.window_start = "nope")), "data.window_start", "RFC 3339"],
  ["empty config revision", withData("GatewayTelemetryPacket", (d) => (d.config = { revision: "", settings: {} })), "data.config.revision"],
  ["config settings not an object", withData("GatewayTelemetryPacket", (d) => (d.config = { revision: "r1", settings: [] })), "data.config.settings", "JSON object"]
]

describe("bad events are rejected naming the field", () => {
  it("has a table of at least 25 rows", () => expect(table.length).toBeGreaterThanOrEqual(25))

  const rows = table.map(([name, input, field, reason]) => ({ name, input, field, reason }))
  it.each(rows)("$name → $field", ({ input, field, reason }) => {
    const result = ingestOne(input)
    expect(Either.isLeft(result)).toBe(true)
    if (Either.isRight(result)) return
    const rejection = result.left
    expect(rejection.field).toBe(field)
    if (reason !== undefined) expect(rejection.reason).toContain(reason)
    const last = field.split(".").at(-1)
    if (field !== "event" && last !== undefined) {
      const segment = /^\d+$/.test(last) ? `[${last}]` : `["${last}"]`
      expect(rejection.tree).toContain(segment)
    }
  })
})

describe("a bare telemetry packet (application/json)", () => {
  it("is rejected with a root-relative field", () => {
    const rejection = decodeRejection(GatewayTelemetryPacket, { ...packet, requests_paid: 5000 })
    expect(rejection?.field).toBe("requests_paid")
    expect(rejection?.tree).toContain("requests_paid")
  })
})

describe("describeParseError / describeParseIssues", () => {
  it("lists every issue, first one first", () => {
    const input = { ...exampleUnknownEvent, TraceParent: "x", my_ext: 1 }
    const result = Schema.decodeUnknownEither(CloudEvent)(input)
    expect(Either.isLeft(result)).toBe(true)
    if (Either.isRight(result)) return
    expect(describeParseIssues(result.left).map((i) => i.field)).toEqual(["TraceParent", "my_ext"])
    expect(describeParseError(result.left).field).toBe("TraceParent")
  })

  it("quotes the refused value only as a bounded preview: deep or wide values make a short reason", () => {
    const decodeKnown = (data: unknown) => {
      const envelope = Either.getOrThrow(decodeCloudEvent({ ...exampleEvents.PaymentAuthorized, data }))
      const known = validateKnownEvent(envelope)
      if (Either.isRight(known)) throw new Error("expected a schema failure")
      return describeParseError(known.left)
    }
    // 5,000 levels: formatting the whole value overflowed the stack.
    const deep = JSON.parse(`${"[".repeat(5000)}${"]".repeat(5000)}`)
    expect(decodeKnown(deep)).toEqual({ field: "data", reason: "Expected PaymentAuthorized, actual [[[…]]]" })
    // 15,000 objects: the reason quoted all of them (about 1 MB).
    const wide = decodeKnown(Array.from({ length: 15_000 }, (_, i) => ({ [`k${i}`]: "v".repeat(50) })))
    expect(wide.field).toBe("data")
    expect(wide.reason.length).toBeLessThanOrEqual(MAX_REASON_LENGTH)
    expect(wide.reason).toMatch(/^Expected PaymentAuthorized, actual \[\{"k0":"v+"\}/)
    // A long string is cut too; a short value is quoted whole, as before.
    expect(decodeKnown("x".repeat(10_000)).reason.length).toBeLessThanOrEqual(MAX_REASON_LENGTH)
    expect(decodeKnown(42)).toEqual({ field: "data", reason: "Expected PaymentAuthorized, actual 42" })
  })

  it("a preview keeps a \"__proto__\" key as a key, and a field named by a huge key is cut", () => {
    const value = JSON.parse('{"__proto__":{"x":1},"a":2}')
    const shown = preview(value) as Record<string, unknown>
    expect(Object.getPrototypeOf(shown)).toBe(Object.prototype)
    expect(Object.keys(shown)).toEqual(["__proto__", "a"])
    const huge = "x".repeat(10_000)
    const result = Schema.decodeUnknownEither(CloudEvent)({ ...exampleUnknownEvent, [huge]: { a: 1 } })
    expect(Either.isLeft(result)).toBe(true)
    if (Either.isRight(result)) return
    const issue = describeParseError(result.left)
    expect(issue.field.length).toBeLessThanOrEqual(MAX_FIELD_LENGTH)
    expect(issue.field.startsWith("xxx")).toBe(true)
  })

  it("splits a batch: the array shape first, then each element on its own", () => {
    const elements = Either.getOrThrow(
      Schema.decodeUnknownEither(RawEventBatch)([exampleEvents.PaymentAuthorized, { specversion: "0.3" }])
    )
    expect(elements.map((e) => Either.isRight(decodeCloudEvent(e)))).toEqual([true, false])
    expect(Either.isLeft(Schema.decodeUnknownEither(RawEventBatch)({}))).toBe(true)
    expect(Either.isLeft(Schema.decodeUnknownEither(RawEventBatch)(Array.from({ length: 10_001 }, () => 0)))).toBe(true)
  })
})
