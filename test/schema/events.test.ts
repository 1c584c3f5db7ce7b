import { Either, Option, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { exampleBatch, exampleEvents, exampleUnknownEvent } from "../../schema/examples.js"
import {
  CloudEvent,
  CloudEventBatch,
  EVENT_TYPES,
  EventTypes,
  GatewayTelemetryPacket,
  KnownCloudEvent,
  KnownEventSchemas,
  validateKnownEvent
} from "../../schema/index.js"
import { clone } from "./helpers.js"

const right = <A, E>(either: Either.Either<A, E>): A =>
  Either.getOrThrowWith(either, (e) => new Error(`expected Right, got ${String(e)}`))

describe("round trips", () => {
  it.each(EVENT_TYPES)("%s: data decodes and encodes back unchanged", (type) => {
    const schema: Schema.Schema.AnyNoContext = EventTypes[type]
    const wire = exampleEvents[type].data
    const decoded = right(Schema.decodeUnknownEither(schema)(wire))
    expect(right(Schema.encodeEither(schema)(decoded))).toEqual(wire)
  })

  it.each(EVENT_TYPES)("%s: the whole event decodes and encodes back unchanged", (type) => {
    const wire = exampleEvents[type]
    const envelope = right(Schema.decodeUnknownEither(CloudEvent)(wire))
    const known = Option.getOrThrow(right(validateKnownEvent(envelope)))
    expect(known.type).toBe(type)
    const knownSchema: Schema.Schema.AnyNoContext = KnownEventSchemas[type]
    const backToEnvelope = right(Schema.encodeUnknownEither(knownSchema)(known))
    expect(right(Schema.encodeUnknownEither(CloudEvent)(backToEnvelope))).toEqual(wire)
    // and in one step
    const typed = right(Schema.decodeUnknownEither(KnownCloudEvent)(wire))
    expect(right(Schema.encodeEither(KnownCloudEvent)(typed))).toEqual(wire)
  })

  it("keeps unknown types raw, with their extensions in `extensions`", () => {
    const envelope = right(Schema.decodeUnknownEither(CloudEvent)(exampleUnknownEvent))
    expect(envelope.extensions).toEqual({ region: "eu1", attempt: 1 })
    expect("region" in envelope).toBe(false)
    expect(envelope.data).toEqual({ uptime_s: 0 })
    expect(right(validateKnownEvent(envelope))).toEqual(Option.none())
    expect(right(Schema.encodeEither(CloudEvent)(envelope))).toEqual(exampleUnknownEvent)
  })

  it("gives traceparent its own field", () => {
    const envelope = right(Schema.decodeUnknownEither(CloudEvent)(exampleEvents.PaymentAuthorized))
    expect(envelope.traceparent).toBe("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    expect(envelope.extensions).toEqual({})
  })

  it("decodes the example batch", () => {
    expect(right(Schema.decodeUnknownEither(CloudEventBatch)(exampleBatch))).toHaveLength(exampleBatch.length)
  })

  it("accepts an envelope built from binary-mode ce-* headers (strings only, data as a value)", () => {
    const fromHeaders = {
      specversion: "1.0",
      id: "evt-bin-1",
      source: "/gateways/gw-eu-1",
      type: "PaymentAuthorized",
      time: "2025-06-01T12:00:00Z",
      datacontenttype: "application/json",
      region: "eu1",
      data: exampleEvents.PaymentAuthorized.data
    }
    const envelope = right(Schema.decodeUnknownEither(CloudEvent)(fromHeaders))
    expect(Option.isSome(right(validateKnownEvent(envelope)))).toBe(true)
  })

  it("accepts a minimal event: only the required attributes", () => {
    const minimal = { specversion: "1.0", id: "1", source: "s", type: "x" }
    expect(right(Schema.decodeUnknownEither(CloudEvent)(minimal))).toEqual({ ...minimal, extensions: {} })
  })
})

describe("GatewayTelemetryPacket", () => {
  it("defaults window_seconds to 60 when absent", () => {
    const { window_seconds: _, ...bare } = clone(exampleEvents.GatewayTelemetryPacket.data)
    expect(right(Schema.decodeUnknownEither(GatewayTelemetryPacket)(bare)).window_seconds).toBe(60)
  })

  it("accepts a packet without routes or config", () => {
    const { config: _, ...rest } = clone(exampleEvents.GatewayTelemetryPacket.data)
    const packet = { ...rest, routes: [] }
    expect(Either.isRight(Schema.decodeUnknownEither(GatewayTelemetryPacket)(packet))).toBe(true)
  })
})
