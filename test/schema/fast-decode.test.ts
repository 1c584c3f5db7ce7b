/**
 * `decodeCloudEvent` and `validateKnownEvent` take shortcuts (wire shape only; `data` alone for
 * known types). They must agree with the full schemas on every input: same value when valid,
 * same first issue when not.
 */
import { Either, Option, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { exampleEvents, exampleUnknownEvent } from "../../schema/examples.js"
import {
  CloudEvent,
  decodeCloudEvent,
  describeParseError,
  EVENT_TYPES,
  EventTypes,
  isEventType,
  KnownEventSchemas,
  validateKnownEvent
} from "../../schema/index.js"
import { Fleet, parseMix } from "../../load/lib/fleet.js"
import { compileDecoder, FAIL } from "../../schema/FastDecode.js"
import { clone } from "./helpers.js"

const fullDecode = (input: unknown) =>
  Either.flatMap(Schema.decodeUnknownEither(CloudEvent)(input), (envelope) =>
    isEventType(envelope.type)
      ? Either.map(Schema.decodeUnknownEither(KnownEventSchemas[envelope.type] as Schema.Schema.AnyNoContext)(envelope), Option.some)
      : Either.right(Option.none()))

const fastDecode = (input: unknown) => Either.flatMap(decodeCloudEvent(input), validateKnownEvent)

const outcome = (result: Either.Either<unknown, Parameters<typeof describeParseError>[0]>) =>
  Either.isRight(result) ? { valid: result.right } : { invalid: describeParseError(result.left) }

/** Every field of the event and of its data: removed, nulled, given a wrong type, emptied. */
const mutations = (event: Record<string, unknown>): Array<unknown> => {
  const out: Array<unknown> = []
  const mutate = (path: ReadonlyArray<string>, change: (parent: Record<string, unknown>, key: string) => void) => {
    const copy = clone(event) as Record<string, unknown>
    let parent = copy
    for (const key of path.slice(0, -1)) parent = parent[key] as Record<string, unknown>
    change(parent, path[path.length - 1]!)
    out.push(copy)
  }
  const walk = (value: Record<string, unknown>, path: ReadonlyArray<string>) => {
    for (const [key, child] of Object.entries(value)) {
      const at = [...path, key]
      mutate(at, (p, k) => Reflect.deleteProperty(p, k))
      mutate(at, (p, k) => (p[k] = null))
      mutate(at, (p, k) => (p[k] = typeof child === "string" ? 7 : "x"))
      mutate(at, (p, k) => (p[k] = ""))
      mutate(at, (p, k) => (p[k] = -1))
      if (typeof child === "object" && child !== null) walk(child as Record<string, unknown>, at)
    }
  }
  walk(event, [])
  return out
}

describe("fast decoding agrees with the full schemas", () => {
  const valid = [
    ...Object.values(exampleEvents),
    exampleUnknownEvent,
    { ...exampleEvents.PaymentAuthorized, region: "eu1", attempt: 3, sampled: true },
    { ...exampleEvents.GatewayTelemetryPacket, data: { ...exampleEvents.GatewayTelemetryPacket.data, window_seconds: undefined } }
  ]

  it.each(valid.map((event, i) => [i, event] as const))("valid input %i decodes to the same value", (_, event) => {
    const input = JSON.parse(JSON.stringify(event))
    expect(outcome(fastDecode(input))).toEqual(outcome(fullDecode(input)))
    expect(Either.isRight(fastDecode(input))).toBe(true)
  })

  it.each(EVENT_TYPES)("%s: every mutation gets the same answer", (type) => {
    const cases = mutations(exampleEvents[type] as unknown as Record<string, unknown>)
    expect(cases.length).toBeGreaterThan(40)
    let invalid = 0
    for (const input of cases) {
      const fast = outcome(fastDecode(input))
      expect(fast).toEqual(outcome(fullDecode(input)))
      if ("invalid" in fast) invalid += 1
    }
    expect(invalid).toBeGreaterThan(cases.length / 2)
  })

  it("rejects what the envelope alone rejects", () => {
    for (const input of [null, 1, [], { ...exampleEvents.PaymentAuthorized, data_base64: "AAAA" }, { ...exampleUnknownEvent, "Bad-Name": 1 }]) {
      expect(Either.isLeft(fastDecode(input))).toBe(true)
      expect(outcome(fastDecode(input))).toEqual(outcome(fullDecode(input)))
    }
  })
})

describe("compiled decoders", () => {
  const fleet = new Fleet(["gw-1", "gw-2"], 50, parseMix("payment=1,blocked=1,solvency=1,intent=1,telemetry=1,unknown=1"), "fast")

  it("agree with the schema on generated traffic, extra fields and defaults included", () => {
    const events = [...fleet.batch("gw-1", 300), ...fleet.batch("gw-2", 300)].map((e) =>
      Math.random() < 0.3 ? { ...e, data: { ...(e.data as object), extra_field: [1, { a: 2 }] }, region: "eu1" } : e
    )
    for (const input of events) {
      const fast = outcome(fastDecode(input))
      expect(fast).toEqual(outcome(fullDecode(input)))
      expect("valid" in fast).toBe(true)
    }
  })

  it.each(EVENT_TYPES)("%s data: the compiled decoder gives the schema's value, or FAIL exactly when it fails", (type) => {
    const schema = EventTypes[type] as unknown as Schema.Schema<unknown, unknown>
    const fast = compileDecoder(schema)
    const full = Schema.decodeUnknownEither(schema)
    const data = exampleEvents[type].data as Record<string, unknown>
    for (const input of [data, ...mutations(data)]) {
      const expected = full(input)
      const got = fast(input)
      if (Either.isRight(expected)) expect(got).toEqual(expected.right)
      else expect(got).toBe(FAIL)
    }
  })

  it("refuses to compile what it does not understand, rather than guess", () => {
    expect(() => compileDecoder(Schema.DateFromSelf)).toThrow(/not supported/)
    expect(() => compileDecoder(Schema.NumberFromString)).toThrow(/not supported/)
  })
})
