/**
 * From request to validated events, without I/O: the CloudEvents HTTP binding's content modes,
 * the bare telemetry packet, request-level problems, and the per-event validation table.
 */
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { exampleBatch, exampleEvents, exampleUnknownEvent, gatewayTelemetryPacketData } from "../../schema/examples.js"
import {
  type Candidate,
  candidatesOf,
  type ContentMode,
  contentModeOf,
  type Rejection,
  type RequestProblem,
  wrapTelemetryPacket
} from "../../src/ingest/Decode.js"
import type { IngestEvent } from "../../src/ingest/IngestEvent.js"
import { validateCandidate } from "../../src/ingest/Validate.js"
import { jsonMayHoldUnstorable, jsonMayOverflow, overflowingNumberAt, unstorableTextAt } from "../../src/http/JsonText.js"

const GATEWAY = "gw-eu-1"
const NOW = Date.parse("2025-06-01T12:10:00Z")
const context = { gatewayId: GATEWAY, now: NOW, maxAgeMs: 7 * 24 * 3_600_000, maxSkewMs: 5 * 60_000 }

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text)
const json = (value: unknown): Uint8Array => utf8(JSON.stringify(value))

type Headers = Readonly<Record<string, string | undefined>>

const split = (contentType: string | undefined, body: Uint8Array, headers: Headers = {}, maxEvents = 100) =>
  Either.flatMap(contentModeOf(contentType, headers), (mode) =>
    candidatesOf(mode, { contentType, headers, body, gatewayId: GATEWAY, maxEvents }))

const candidates = (contentType: string | undefined, body: Uint8Array, headers: Headers = {}, maxEvents = 100) =>
  Either.getOrThrowWith(split(contentType, body, headers, maxEvents), (p) => new Error(`unexpected ${p.status}: ${p.message}`))

const problem = (contentType: string | undefined, body: Uint8Array, headers: Headers = {}, maxEvents = 100): RequestProblem =>
  Either.match(split(contentType, body, headers, maxEvents), {
    onLeft: (p) => p,
    onRight: () => {
      throw new Error("expected a request problem")
    }
  })

const accept = (value: unknown, index = 0): IngestEvent =>
  Either.getOrThrowWith(validateCandidate({ index, value }, context), (r) => new Error(`rejected ${r.field}: ${r.reason}`))

const reject = (value: unknown, index = 0): Rejection =>
  Either.match(validateCandidate({ index, value }, context), {
    onLeft: (r) => r,
    onRight: () => {
      throw new Error("expected a rejection")
    }
  })

const without = <V>(record: Readonly<Record<string, V>>, key: string): Record<string, V> => {
  const { [key]: _dropped, ...rest } = record
  return rest
}

const pa = exampleEvents.PaymentAuthorized

describe("content mode", () => {
  const cases: ReadonlyArray<readonly [string | undefined, Headers, ContentMode]> = [
    ["application/cloudevents+json", {}, "structured"],
    ["application/cloudevents+json; charset=utf-8", {}, "structured"],
    ["Application/CloudEvents+JSON", {}, "structured"],
    ["application/cloudevents-batch+json; charset=utf-8", {}, "batch"],
    ["application/json", { "ce-specversion": "1.0" }, "binary"],
    ["application/octet-stream", { "ce-specversion": "1.0" }, "binary"],
    [undefined, { "ce-specversion": "1.0" }, "binary"],
    // Structured mode wins over stray ce-* headers (HTTP binding §3.1.1: the media type decides).
    ["application/cloudevents+json", { "ce-specversion": "1.0" }, "structured"],
    ["application/json", {}, "telemetry"],
    ["application/json; charset=utf-8", {}, "telemetry"]
  ]
  for (const [contentType, headers, mode] of cases) {
    it(`${contentType ?? "(no content type)"} ${Object.keys(headers).join(",")} → ${mode}`, () => {
      expect(contentModeOf(contentType, headers)).toEqual(Either.right(mode))
    })
  }

  it("refuses other media types with 415 naming content-type", () => {
    for (const contentType of ["text/plain", "application/xml", undefined]) {
      const refused = Either.getLeft(contentModeOf(contentType, {}))
      expect(refused._tag).toBe("Some")
      if (refused._tag === "Some") {
        expect(refused.value.status).toBe(415)
        expect(refused.value.field).toBe("content-type")
        expect(refused.value.message).toContain(contentType ?? "(none)")
      }
    }
  })
})

describe("structured mode", () => {
  it("carries one event", () => {
    expect(candidates("application/cloudevents+json; charset=utf-8", json(pa))).toEqual([{ index: 0, value: pa, storable: true, finite: true }])
  })

  it("refuses an array with 400 (batches have their own media type)", () => {
    const p = problem("application/cloudevents+json", json([pa]))
    expect(p).toMatchObject({ status: 400, error: "unexpected_array", field: "body" })
  })

  it("refuses invalid JSON with 400 naming the body", () => {
    const p = problem("application/cloudevents+json", utf8("{\"specversion\": \"1.0\","))
    expect(p).toMatchObject({ status: 400, error: "invalid_json", field: "body" })
    expect(p.message).toContain("not valid JSON")
  })

  it("refuses a body that is not UTF-8 with 400 (replacing bad bytes would make different ids one)", () => {
    const withId = (byte: number) => {
      const head = utf8("{\"specversion\":\"1.0\",\"id\":\"u")
      const tail = utf8("1\"}")
      return new Uint8Array([...head, byte, ...tail])
    }
    for (const body of [withId(0xff), withId(0xfe), new Uint8Array([0xc3, 0x28])]) {
      expect(problem("application/cloudevents+json", body)).toMatchObject({ status: 400, error: "invalid_utf8", field: "body" })
      expect(problem("application/cloudevents-batch+json", body)).toMatchObject({ status: 400, error: "invalid_utf8" })
    }
    // Binary mode: a JSON or text payload must be UTF-8 too; other media stay bytes (base64).
    const binary = { "ce-specversion": "1.0", "ce-id": "b-1", "ce-source": "machpay://gateway/gw-eu-1", "ce-type": "com.example.Bytes" }
    expect(problem("application/json", withId(0xff), binary)).toMatchObject({ status: 400, error: "invalid_utf8" })
    expect(problem("text/plain", withId(0xff), binary)).toMatchObject({ status: 400, error: "invalid_utf8" })
    expect(candidates("application/octet-stream", withId(0xff), binary)).toHaveLength(1)
    // Multi-byte text is fine.
    expect(candidates("application/cloudevents+json", utf8("{\"id\":\"€ü\"}"))).toHaveLength(1)
  })

  it("hands a non-object through to per-event validation (rejected there, not here)", () => {
    expect(candidates("application/cloudevents+json", json("hello"))).toEqual([{ index: 0, value: "hello", storable: true, finite: true }])
    expect(reject("hello").field).toBe("event")
  })
})

describe("batch mode", () => {
  it("splits the array, keeping each event's index", () => {
    const list = candidates("application/cloudevents-batch+json", json(exampleBatch))
    expect(list.map((c) => c.index)).toEqual(exampleBatch.map((_, i) => i))
    expect(list.map((c) => c.value)).toEqual(exampleBatch)
  })

  it("refuses an empty batch, a non-array and invalid JSON with 400", () => {
    expect(problem("application/cloudevents-batch+json", json([]))).toMatchObject({ status: 400, error: "empty_batch" })
    expect(problem("application/cloudevents-batch+json", json(pa))).toMatchObject({ status: 400, error: "expected_array" })
    expect(problem("application/cloudevents-batch+json", utf8("[{]"))).toMatchObject({ status: 400, error: "invalid_json" })
  })

  it("refuses more events than the limit with 413 naming the limit", () => {
    const events = Array.from({ length: 4 }, (_, i) => ({ ...pa, id: `e-${i}` }))
    expect(candidates("application/cloudevents-batch+json", json(events), {}, 4)).toHaveLength(4)
    const p = problem("application/cloudevents-batch+json", json(events), {}, 3)
    expect(p).toMatchObject({ status: 413, error: "too_many_events" })
    expect(p.message).toContain("INGEST_MAX_EVENTS_PER_REQUEST")
    expect(p.message).toContain("3")
  })

  it("one bad event does not fail its batch", () => {
    const list = candidates("application/cloudevents-batch+json", json([pa, without(pa, "id"), exampleUnknownEvent]))
    const results = list.map((c) => validateCandidate(c, context))
    expect(results.map(Either.isRight)).toEqual([true, false, true])
    expect(Either.getLeft(results[1]!)).toMatchObject({ _tag: "Some", value: { index: 1, field: "id" } })
  })
})

describe("binary mode", () => {
  const headers = {
    "ce-specversion": "1.0",
    "ce-id": "evt-bin-1",
    "ce-source": "machpay://gateway/gw-eu-1",
    "ce-type": "PaymentAuthorized",
    "ce-time": "2025-06-01T12:00:01Z"
  }

  it("builds the envelope from ce-* headers and parses JSON data", () => {
    const [candidate] = candidates("application/json", json(pa.data), headers)
    expect(candidate).toEqual({
      index: 0,
      value: {
        specversion: "1.0",
        id: "evt-bin-1",
        source: "machpay://gateway/gw-eu-1",
        type: "PaymentAuthorized",
        time: "2025-06-01T12:00:01Z",
        datacontenttype: "application/json",
        data: pa.data
      }
    })
    const event = accept(candidate!.value)
    expect(event).toMatchObject({ id: "evt-bin-1", type: "PaymentAuthorized", time: "2025-06-01T12:00:01Z", gatewayId: GATEWAY })
    expect(event.known?.type).toBe("PaymentAuthorized")
    expect(event.data).toEqual(pa.data)
  })

  it("percent-decodes header values (HTTP binding §3.1.3.2)", () => {
    const [candidate] = candidates("application/json", json(pa.data), {
      ...headers,
      "ce-id": "evt%20bin%2F2",
      "ce-subject": "caf%C3%A9%20%E2%82%AC%25",
      // Not valid percent-encoding: kept as sent rather than failing the request.
      "ce-note": "100%"
    })
    expect(candidate?.value).toMatchObject({ id: "evt bin/2", subject: "café €%", note: "100%" })
    expect(accept(candidate!.value).subject).toBe("café €%")
  })

  it("turns other ce-* headers into extension attributes", () => {
    const [candidate] = candidates("application/json; charset=utf-8", json(pa.data), {
      ...headers,
      "ce-region": "eu1",
      "ce-traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      "x-other": "ignored"
    })
    const event = accept(candidate!.value)
    expect(event.attributes).toMatchObject({
      region: "eu1",
      traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      datacontenttype: "application/json; charset=utf-8"
    })
    expect(event.attributes).not.toHaveProperty("x-other")
    expect(event.attributes).not.toHaveProperty("data")
  })

  it("keeps non-JSON data as data_base64, text as a string, and no body as no data", () => {
    const unknown = { ...headers, "ce-type": "com.example.Blob" }
    const bytes = new Uint8Array([0, 1, 2, 253, 254, 255])
    const [binary] = candidates("application/octet-stream", bytes, unknown)
    expect(binary?.value).toMatchObject({ data_base64: Buffer.from(bytes).toString("base64") })
    expect(binary?.value).not.toHaveProperty("data")
    const event = accept(binary!.value)
    expect(event.known).toBeUndefined()
    expect(event.data).toBeUndefined()
    expect(event.attributes["data_base64"]).toBe(Buffer.from(bytes).toString("base64"))

    const [text] = candidates("text/plain; charset=utf-8", utf8("hello €"), unknown)
    expect(text?.value).toMatchObject({ data: "hello €" })

    const [empty] = candidates(undefined, new Uint8Array(), unknown)
    expect(empty?.value).not.toHaveProperty("data")
    expect(empty?.value).not.toHaveProperty("datacontenttype")
    expect(accept(empty!.value).data).toBeUndefined()
  })

  it("refuses a JSON content type with a body that is not JSON (400)", () => {
    expect(problem("application/json", utf8("not json"), headers)).toMatchObject({ status: 400, error: "invalid_json" })
  })

  it("rejects a known type whose binary data is not its JSON object, naming data", () => {
    const [candidate] = candidates("text/plain", utf8("hello"), headers)
    expect(reject(candidate!.value).field).toBe("data")
  })

  it("rejects a binary event with missing required headers, naming the attribute", () => {
    const [candidate] = candidates("application/json", json(pa.data), without(headers, "ce-id"))
    expect(reject(candidate!.value).field).toBe("id")
  })
})

describe("bare telemetry packet", () => {
  const packet = gatewayTelemetryPacketData

  it("is wrapped as a GatewayTelemetryPacket event of the key's gateway, timed by its window", () => {
    const [candidate] = candidates("application/json", json(packet))
    expect(candidate?.value).toMatchObject({
      specversion: "1.0",
      id: packet.packet_id,
      source: "machpay://gateway/gw-eu-1/metrics",
      type: "GatewayTelemetryPacket",
      time: packet.window_start,
      data: packet
    })
    const event = accept(candidate!.value)
    expect(event.known?.type).toBe("GatewayTelemetryPacket")
    expect(event.time).toBe(packet.window_start)
  })

  it("keeps a stable id across retries (packet_id, else the window)", () => {
    expect(wrapTelemetryPacket(packet, GATEWAY)).toEqual(wrapTelemetryPacket(structuredClone(packet), GATEWAY))
    const noId = without(packet, "packet_id")
    const first = wrapTelemetryPacket(noId, GATEWAY) as { id: string }
    const retry = wrapTelemetryPacket(structuredClone(noId), GATEWAY) as { id: string }
    expect(first.id).toBe(`telemetry-${packet.window_start}`)
    expect(retry.id).toBe(first.id)
    const later = wrapTelemetryPacket({ ...noId, window_start: "2025-06-01T12:02:00Z" }, GATEWAY) as { id: string }
    expect(later.id).not.toBe(first.id)
  })

  it("accepts an array of packets, each its own event", () => {
    const second = { ...packet, packet_id: "pkt-2", window_start: "2025-06-01T12:02:00Z" }
    const list = candidates("application/json", json([packet, second]))
    expect(list.map((c) => (c.value as { id: string }).id)).toEqual([packet.packet_id, "pkt-2"])
    expect(problem("application/json", json([packet, second]), {}, 1)).toMatchObject({ status: 413, error: "too_many_events" })
    expect(problem("application/json", json([]))).toMatchObject({ status: 400, error: "empty_batch" })
  })

  it("rejects a packet that speaks for another gateway as foreign", () => {
    const [candidate] = candidates("application/json", json({ ...packet, gateway_id: "gw-us-2" }))
    expect(reject(candidate!.value)).toMatchObject({ field: "data.gateway_id", foreignGateway: true })
  })

  it("names the packet's own field when window_start is missing or invalid (the sender never sent `time`)", () => {
    // A bare packet has no envelope: its time comes from window_start, so that is the field to name.
    const fieldOf = (candidate: Candidate) =>
      Either.match(validateCandidate(candidate, context), { onLeft: (r) => r.field, onRight: () => "accepted" })
    const [missing] = candidates("application/json", json(without(packet, "window_start")))
    expect(fieldOf(missing!)).toBe("data.window_start")
    const [invalid] = candidates("application/json", json({ ...packet, window_start: "yesterday" }))
    expect(fieldOf(invalid!)).toBe("data.window_start")
  })
})

describe("validation", () => {
  const cases: ReadonlyArray<readonly [string, unknown, string]> = [
    ["not an object", 42, "event"],
    ["missing id", without(pa, "id"), "id"],
    ["empty id", { ...pa, id: "" }, "id"],
    ["wrong specversion", { ...pa, specversion: "0.3" }, "specversion"],
    ["source with spaces", { ...pa, source: "not a uri" }, "source"],
    ["empty type", { ...pa, type: "" }, "type"],
    ["time not RFC 3339", { ...pa, time: "yesterday" }, "time"],
    ["known type without time", without(pa, "time"), "time"],
    ["bad extension name", { ...pa, Region: "eu1" }, "Region"],
    ["bad extension value", { ...pa, region: { nested: true } }, "region"],
    ["data and data_base64", { ...pa, data_base64: "AAAA" }, "data_base64"],
    ["known type without data", without(pa, "data"), "data"],
    ["bad amount", { ...pa, data: { ...pa.data, amount: "1e5" } }, "data.amount"],
    ["missing agent_id", { ...pa, data: without(pa.data, "agent_id") }, "data.agent_id"],
    ["bad method", { ...pa, data: { ...pa.data, method: "FETCH" } }, "data.method"],
    [
      "latency percentiles out of order",
      {
        ...exampleEvents.GatewayTelemetryPacket,
        data: { ...gatewayTelemetryPacketData, latency_ms: { ...gatewayTelemetryPacketData.latency_ms, p50: 100 } }
      },
      "data.latency_ms.p50"
    ],
    [
      "bad intent status",
      { ...exampleEvents.PaymentIntent, data: { ...exampleEvents.PaymentIntent.data, status: "done" } },
      "data.status"
    ]
  ]
  for (const [name, value, field] of cases) {
    it(`${name} → rejected naming ${field}`, () => {
      const rejection = reject(value, 3)
      expect(rejection.field).toBe(field)
      expect(rejection.reason.length).toBeGreaterThan(0)
      expect(rejection.index).toBe(3)
      expect(rejection.payload).toBe(value)
      expect(rejection.foreignGateway).toBeUndefined()
    })
  }

  it("a rejection keeps what could be read of the event's identity", () => {
    expect(reject({ ...pa, data: { ...pa.data, amount: "x" } })).toMatchObject({ id: pa.id, source: pa.source, type: pa.type })
    expect(reject(without(pa, "id"))).not.toHaveProperty("id")
  })

  it("flags an event that speaks for another gateway", () => {
    const rejection = reject({ ...pa, data: { ...pa.data, gateway_id: "gw-us-2" } })
    expect(rejection).toMatchObject({ field: "data.gateway_id", foreignGateway: true })
    expect(rejection.reason).toContain("gw-us-2")
    expect(rejection.reason).toContain(GATEWAY)
  })

  it("rejects times older than the window and too far ahead, naming time", () => {
    const old = reject({ ...pa, time: new Date(NOW - context.maxAgeMs - 1000).toISOString() })
    expect(old.field).toBe("time")
    expect(old.reason).toContain("older")
    const ahead = reject({ ...pa, time: new Date(NOW + context.maxSkewMs + 1000).toISOString() })
    expect(ahead.field).toBe("time")
    expect(ahead.reason).toContain("future")
    // Offsets are honoured: 14:14 at +02:00 is 12:14Z, inside the skew.
    expect(accept({ ...pa, time: "2025-06-01T14:14:00+02:00" }).timeMs).toBe(Date.parse("2025-06-01T12:14:00Z"))
    expect(accept({ ...pa, time: new Date(NOW - context.maxAgeMs + 60_000).toISOString() }).type).toBe("PaymentAuthorized")
  })

  it("applies the window to unknown types too", () => {
    expect(reject({ ...exampleUnknownEvent, time: "2020-01-01T00:00:00Z" }).field).toBe("time")
  })

  it("accepts an unknown type raw only, extensions flattened into the attributes", () => {
    const event = accept(exampleUnknownEvent)
    expect(event.known).toBeUndefined()
    expect(event).toMatchObject({
      source: exampleUnknownEvent.source,
      id: exampleUnknownEvent.id,
      type: exampleUnknownEvent.type,
      time: exampleUnknownEvent.time,
      receivedAt: NOW,
      gatewayId: GATEWAY,
      data: exampleUnknownEvent.data
    })
    expect(event.attributes).toEqual({
      specversion: "1.0",
      id: exampleUnknownEvent.id,
      source: exampleUnknownEvent.source,
      type: exampleUnknownEvent.type,
      time: exampleUnknownEvent.time,
      region: "eu1",
      attempt: 1
    })
  })

  it("gives an unknown type without time the receive time", () => {
    const event = accept(without(exampleUnknownEvent, "time"))
    expect(event.time).toBe(new Date(NOW).toISOString())
    expect(event.timeMs).toBe(NOW)
  })

  it("accepts every example event, typed, bound to the key's gateway", () => {
    for (const [type, wire] of Object.entries(exampleEvents)) {
      const event = accept(wire)
      expect(event.known?.type).toBe(type)
      expect(event.gatewayId).toBe(GATEWAY)
      expect(event.timeMs).toBe(Date.parse(wire.time))
      expect(event.attributes).toMatchObject({ traceparent: wire.traceparent, datacontenttype: "application/json" })
    }
  })

  it("rejects strings PostgreSQL cannot store (NUL, lone surrogates), naming the field", () => {
    // jsonb and text refuse U+0000 and unpaired surrogates: accepted, such an event would fail
    // its whole batch at every retry. JSON.parse is what the handler uses, so build them that way.
    const cases: ReadonlyArray<readonly [string, unknown, RegExp]> = [
      ["NUL in unknown data", { ...exampleUnknownEvent, data: JSON.parse("{\"note\":\"a\\u0000b\"}") }, /^data/],
      ["NUL in a data key", { ...exampleUnknownEvent, data: JSON.parse("{\"a\\u0000\":1}") }, /^data/],
      ["lone surrogate in unknown data", { ...exampleUnknownEvent, data: JSON.parse("{\"note\":\"a\\ud800b\"}") }, /^data/],
      ["NUL in subject", { ...exampleUnknownEvent, subject: "a\u0000b" }, /^subject$/],
      ["NUL in an extension", { ...exampleUnknownEvent, region: "eu\u0000" }, /^region$/],
      [
        "NUL in a known type's text field",
        { ...exampleEvents.RequestBlocked, data: { ...exampleEvents.RequestBlocked.data, detail: "x\u0000y" } },
        /^data\.detail$/
      ]
    ]
    for (const [name, value, field] of cases) {
      const result = validateCandidate({ index: 0, value }, context)
      expect(Either.isLeft(result), `${name} is rejected`).toBe(true)
      if (Either.isLeft(result)) expect(result.left.field, name).toMatch(field)
    }
  })

  it("finds unstorable text through the request path too, whatever the escape looks like", () => {
    // candidatesOf skips the per-value scan when the JSON text has no escape that could hide
    // such text; these bodies do, in several spellings, and must still be refused.
    const bodies = [
      "[{\"specversion\":\"1.0\",\"id\":\"n1\",\"source\":\"s\",\"type\":\"X\",\"data\":{\"note\":\"a\\u0000b\"}}]",
      "[{\"specversion\":\"1.0\",\"id\":\"n2\",\"source\":\"s\",\"type\":\"X\",\"data\":{\"note\":\"a\\uDBFFb\"}}]",
      "[{\"specversion\":\"1.0\",\"id\":\"n3\",\"source\":\"s\",\"type\":\"X\",\"subject\":\"\\udc00\"}]"
    ]
    for (const body of bodies) {
      const candidates = candidatesOf("batch", {
        contentType: "application/cloudevents-batch+json",
        headers: {},
        body: Buffer.from(body),
        gatewayId: GATEWAY,
        maxEvents: 10
      })
      if (Either.isLeft(candidates)) throw new Error(`not split: ${body}`)
      const result = validateCandidate(candidates.right[0]!, context)
      expect(Either.isLeft(result), body).toBe(true)
    }
    // a valid escaped pair is storable
    expect(jsonMayHoldUnstorable("\"\\ud83d\\ude00\"")).toBe(true)
    expect(unstorableTextAt(JSON.parse("\"\\ud83d\\ude00\""))).toBeUndefined()
    expect(jsonMayHoldUnstorable(JSON.stringify({ a: "héllo 😀", b: "\\u0041" }))).toBe(false)
  })

  it("refuses a number beyond a double's range, naming it, instead of storing null; in range is accepted", () => {
    const candidateOf = (body: string) =>
      Either.getOrThrow(candidatesOf("batch", {
        contentType: "application/cloudevents-batch+json",
        headers: {},
        body: Buffer.from(body),
        gatewayId: GATEWAY,
        maxEvents: 10
      }))[0]!
    const event = (data: string) =>
      `[{"specversion":"1.0","id":"big-1","source":"machpay://gateway/${GATEWAY}","type":"com.example.Odd","data":${data}}]`
    for (const [data, field] of [
      ["{\"x\":1e309}", "data.x"],
      ["{\"x\":[1,-2E+400]}", "data.x.1"],
      [`{"a":{"b":1${"0".repeat(309)}}}`, "data.a.b"],
      ["{\"x\":1e0309}", "data.x"]
    ] as const) {
      const result = validateCandidate(candidateOf(event(data)), context)
      expect(Either.isLeft(result), data).toBe(true)
      if (Either.isLeft(result)) {
        expect(result.left.field).toBe(field)
        expect(result.left.reason).toMatch(/beyond ±1.8e308/)
      }
    }
    // Large but finite, and an exponent of three digits that stays in range: stored as sent.
    for (const data of ["{\"x\":1.7e308}", "{\"x\":1e100}", "{\"x\":1e-400}", `{"s":"${"9".repeat(400)}"}`]) {
      expect(Either.isRight(validateCandidate(candidateOf(event(data)), context)), data).toBe(true)
    }
    expect(overflowingNumberAt({ a: [1, { b: Number.NEGATIVE_INFINITY }] })).toBe("a.1.b")
    expect(overflowingNumberAt({ a: Number.MAX_VALUE })).toBeUndefined()
    // The text check only decides whether to look: no false "finite" for an overflowing number.
    expect(jsonMayOverflow("{\"x\":1e309}")).toBe(true)
    expect(jsonMayOverflow("{\"x\":12345.678e-9}")).toBe(false)
  })

  it("names an unstorable string nested far below the stack's reach, without copying paths per level", () => {
    // 20,000 levels: a copied path per level would be 200 million elements (seconds, GBs).
    const deep = JSON.parse(`${"[".repeat(20_000)}{"k":"a\\u0000"}${"]".repeat(20_000)}`)
    expect(unstorableTextAt(deep, ["data"])).toBe(["data", ...Array.from({ length: 20_000 }, () => "0"), "k"].join("."))
    expect(unstorableTextAt({ x: [1, { "bad\u0000key": 1 }] })).toBe("x.1.bad\u0000key")
    expect(unstorableTextAt({ a: ["ok", "b\ud800"] })).toBe("a.1")
  })

  it("validates each candidate on its own", () => {
    const list: ReadonlyArray<Candidate> = [
      { index: 0, value: pa },
      { index: 1, value: { ...pa, id: "x", data: { ...pa.data, gateway_id: "gw-us-2" } } },
      { index: 2, value: exampleUnknownEvent }
    ]
    const results = list.map((c) => validateCandidate(c, context))
    expect(results.map((r) => (Either.isRight(r) ? "ok" : r.left.field))).toEqual(["ok", "data.gateway_id", "ok"])
  })
})
