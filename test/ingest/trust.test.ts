/**
 * The ingest trust boundary without I/O: an event's identity belongs to the key's gateway
 * (`source`), every time that decides a partition or bucket is inside the accepted window,
 * envelope limits are in bytes, and metric labels come from bounded sets.
 */
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { exampleEvents, gatewayTelemetryPacketData } from "../../schema/examples.js"
import { utf8ByteLength } from "../../schema/index.js"
import { candidatesOf, type Rejection } from "../../src/ingest/Decode.js"
import { isOwnSource, validateCandidate } from "../../src/ingest/Validate.js"
import type { IngestEvent } from "../../src/ingest/IngestEvent.js"
import { fieldLabel, typeLabel } from "../../src/ingest/Labels.js"

const GATEWAY = "gw-eu-1"
const NOW = Date.parse("2025-06-01T12:10:00Z")
const context = { gatewayId: GATEWAY, now: NOW, maxAgeMs: 7 * 24 * 3_600_000, maxSkewMs: 5 * 60_000 }
const pa = exampleEvents.PaymentAuthorized
const packetEvent = exampleEvents.GatewayTelemetryPacket

const accept = (value: unknown): IngestEvent =>
  Either.getOrThrowWith(validateCandidate({ index: 0, value }, context), (r) => new Error(`rejected ${r.field}: ${r.reason}`))

const reject = (value: unknown): Rejection =>
  Either.match(validateCandidate({ index: 0, value }, context), {
    onLeft: (r) => r,
    onRight: () => {
      throw new Error("expected a rejection")
    }
  })

describe("source must be the gateway's own (finding 1)", () => {
  it("accepts the gateway's URI and sub-paths of it", () => {
    expect(accept({ ...pa, source: "machpay://gateway/gw-eu-1" }).source).toBe("machpay://gateway/gw-eu-1")
    expect(accept({ ...pa, source: "machpay://gateway/gw-eu-1/metrics" }).source).toBe("machpay://gateway/gw-eu-1/metrics")
    expect(accept({ ...pa, source: "machpay://gateway/gw-eu-1/a/b" }).type).toBe("PaymentAuthorized")
  })

  it("rejects another gateway's source, a longer id sharing the prefix, and anything else, naming source", () => {
    for (
      const source of [
        "machpay://gateway/gw-us-2",
        "machpay://gateway/gw-eu-10",
        "machpay://gateway/gw-eu-1/",
        "machpay://gateway/GW-EU-1",
        "machpay://gateway/gw%2Deu-1",
        "machpay://gateway",
        "/gateways/gw-eu-1",
        "s"
      ]
    ) {
      const rejection = reject({ ...pa, source })
      expect(rejection, source).toMatchObject({ field: "source", foreignGateway: true, source })
      expect(rejection.reason).toContain("machpay://gateway/gw-eu-1")
    }
  })

  it("applies to unknown types and telemetry packets sent as events too", () => {
    expect(reject({ specversion: "1.0", id: "x", source: "machpay://gateway/gw-us-2", type: "com.example.X" }).field)
      .toBe("source")
    expect(reject({ ...packetEvent, source: "machpay://gateway/gw-us-2/metrics" }).field).toBe("source")
  })

  it("a bare packet is under the key's gateway's own source, so its predictable id cannot collide across gateways", () => {
    const { packet_id: _id, ...bare } = gatewayTelemetryPacketData
    const body = new TextEncoder().encode(JSON.stringify(bare))
    const wrap = (gatewayId: string) =>
      Either.getOrThrow(candidatesOf("telemetry", { contentType: "application/json", headers: {}, body, gatewayId, maxEvents: 10 }))[0]!
        .value as { id: string; source: string }
    expect(wrap("gw-a").id).toBe(wrap("gw-b").id)
    expect(wrap("gw-a").source).not.toBe(wrap("gw-b").source)
    expect(isOwnSource(wrap("gw-a").source, "gw-a")).toBe(true)
    expect(isOwnSource(wrap("gw-a").source, "gw-b")).toBe(false)
  })
})

describe("every partition- or bucket-deciding time is inside the window (finding 4)", () => {
  const withWindow = (windowStart: string) => ({
    ...packetEvent,
    time: "2025-06-01T12:09:00Z",
    data: { ...packetEvent.data, window_start: windowStart }
  })

  it("rejects a packet event whose window starts in 1970 or 9999, naming data.window_start", () => {
    const old = reject(withWindow("1970-01-01T00:00:00Z"))
    expect(old).toMatchObject({ field: "data.window_start" })
    expect(old.reason).toContain("older")
    const ahead = reject(withWindow("9999-12-31T23:59:00Z"))
    expect(ahead).toMatchObject({ field: "data.window_start" })
    expect(ahead.reason).toContain("future")
  })

  it("accepts a window inside the accepted range", () => {
    expect(accept(withWindow("2025-06-01T12:08:00Z")).known?.type).toBe("GatewayTelemetryPacket")
  })

  it("names data.window_start for a bare packet too", () => {
    const body = new TextEncoder().encode(JSON.stringify({ ...gatewayTelemetryPacketData, window_start: "1970-01-01T00:00:00Z" }))
    const [candidate] = Either.getOrThrow(
      candidatesOf("telemetry", { contentType: "application/json", headers: {}, body, gatewayId: GATEWAY, maxEvents: 10 })
    )
    const rejection = Either.flip(validateCandidate(candidate!, context))
    expect(Either.getOrThrow(rejection).field).toBe("data.window_start")
  })
})

describe("envelope limits are in UTF-8 bytes and named (finding 5)", () => {
  it("counts UTF-8 bytes", () => {
    expect(utf8ByteLength("abc")).toBe(3)
    expect(utf8ByteLength("é")).toBe(2)
    expect(utf8ByteLength("€")).toBe(3)
    expect(utf8ByteLength("😀")).toBe(4)
    for (const text of ["a€😀é", "x".repeat(1000), "\u{10FFFF}z"]) expect(utf8ByteLength(text)).toBe(Buffer.byteLength(text))
  })

  it("id and source: 512 bytes accepted, 513 refused, whatever the characters", () => {
    expect(accept({ ...pa, id: "x".repeat(512) }).id).toHaveLength(512)
    expect(accept({ ...pa, id: "€".repeat(170) + "xx" }).id).toHaveLength(172) // 512 bytes
    for (const id of ["x".repeat(513), "€".repeat(171)]) {
      const rejection = reject({ ...pa, id })
      expect(rejection.field).toBe("id")
      expect(rejection.reason).toBe("must be at most 512 bytes (UTF-8)")
    }
    const base = "machpay://gateway/gw-eu-1/"
    expect(accept({ ...pa, source: base + "x".repeat(512 - base.length) }).source).toHaveLength(512)
    const long = reject({ ...pa, source: base + "é".repeat(244) }) // 26 + 488 = 514 bytes
    expect(long).toMatchObject({ field: "source", reason: "must be at most 512 bytes (UTF-8)" })
  })

  it("type, subject, datacontenttype: byte limits named", () => {
    expect(reject({ ...pa, type: "ü".repeat(129) })).toMatchObject({ field: "type", reason: "must be at most 256 bytes (UTF-8)" })
    expect(reject({ ...pa, subject: "ü".repeat(513) })).toMatchObject({
      field: "subject",
      reason: "must be at most 1024 bytes (UTF-8)"
    })
    expect(reject({ ...pa, datacontenttype: "ü".repeat(129) }).field).toBe("datacontenttype")
  })
})

describe("metric labels from bounded sets (finding 6)", () => {
  it("type: the known types, else other", () => {
    expect(typeLabel("PaymentAuthorized")).toBe("PaymentAuthorized")
    expect(typeLabel("GatewayTelemetryPacket")).toBe("GatewayTelemetryPacket")
    expect(typeLabel("com.example.Anything")).toBe("other")
    expect(typeLabel(undefined)).toBe("other")
    expect(new Set(Array.from({ length: 1000 }, (_, i) => typeLabel(`t-${i}`))).size).toBe(1)
  })

  it("field: envelope attributes and data paths (indexes as *); sender-named extensions → extension", () => {
    expect(fieldLabel("source")).toBe("source")
    expect(fieldLabel("time")).toBe("time")
    expect(fieldLabel("event")).toBe("event")
    expect(fieldLabel("data.routes.3.paid")).toBe("data.routes.*.paid")
    expect(fieldLabel("data.routes.17")).toBe("data.routes.*")
    expect(fieldLabel("Region")).toBe("extension")
    expect(new Set(Array.from({ length: 1000 }, (_, i) => fieldLabel(`Ext${i}`))).size).toBe(1)
  })

  it.each([
    ["data.amount", "data.amount"],
    ["data.latency_ms.p99", "data.latency_ms.p99"],
    ["data.config.settings", "data.config.settings"],
    ["data.k\u0000x", "data.other"],
    ["data.extra.0.0.0", "data.other"]
  ])("field %j: a data path keeps its shape only through keys the data schemas declare → %s", (field, label) => {
    expect(fieldLabel(field)).toBe(label)
  })

  it("field: a thousand keys a sender made up inside data are one series", () => {
    expect(new Set(Array.from({ length: 1000 }, (_, i) => fieldLabel(`data.key${i}`))).size).toBe(1)
  })

  it("field: the schemas' own names in orders no schema has are data.other (an outside probe made 10,000 series a request)", () => {
    expect(fieldLabel("data.amount.asset.route")).toBe("data.other")
    expect(fieldLabel("data")).toBe("data")
    expect(fieldLabel("data.latency_ms.p99.p99")).toBe("data.other")
    const names = ["amount", "asset", "route", "routes", "latency_ms", "p99", "config", "settings", "paid", "gateway_id"]
    const paths = Array.from({ length: 10_000 }, (_, i) => {
      const depth = 1 + (i % 6)
      return ["data", ...Array.from({ length: depth }, (_, d) => names[(i * 7 + d * 13 + Math.floor(i / 10)) % names.length]!)].join(".")
    })
    const labels = new Set(paths.map(fieldLabel))
    // Only paths the schemas declare keep their shape: a few dozen at most, whatever is sent.
    expect(labels.size).toBeLessThan(30)
    for (const label of labels) expect(label === "data.other" || paths.includes(label)).toBe(true)
  })
})
