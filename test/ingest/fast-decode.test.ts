/**
 * The receiver's `decodeCloudEvent` and `validateKnownEvent` take shortcuts (compiled decoders;
 * wire shape only; `data` alone for known types). They must agree with the full schemas on every
 * input: same value when valid, same first issue when not — on the examples, on every field of
 * them mutated, and as properties over `Arbitrary.make(schema)` (valid inputs, then each mutated
 * at a random path).
 */
import { Arbitrary, Either, FastCheck as fc, Option, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { exampleEvents, exampleUnknownEvent } from "../../schema/examples.js"
import {
  CloudEvent,
  CloudEventWire,
  describeParseError,
  EVENT_TYPES,
  EventTypes,
  isEventType,
  KnownEventSchemas
} from "../../schema/index.js"
import { compileDecoder, FAIL } from "../../src/ingest/FastDecode.js"
import { decodeCloudEvent, validateKnownEvent } from "../../src/ingest/FastEvents.js"
import { clone } from "../schema/helpers.js"

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

/** Every path of a JSON value (object keys and array indexes), the root excluded. */
const pathsOf = (value: unknown, at: ReadonlyArray<string | number> = []): Array<ReadonlyArray<string | number>> =>
  typeof value !== "object" || value === null
    ? []
    : Object.keys(value).flatMap((key) => {
      const step = Array.isArray(value) ? Number(key) : key
      return [[...at, step], ...pathsOf((value as Record<string, unknown>)[key], [...at, step])]
    })

const DELETE = Symbol("delete")

/** A replacement for one field: removed, or any JSON-ish value (wrong types, empty, negative …). */
const replacement = fc.oneof(
  fc.constant(DELETE),
  fc.constantFrom<unknown>(null, "", -1, 0, 7, 1.5, "x", true, [], {}, "2025-13-01T00:00:00Z", "1e3", "-0.5"),
  fc.jsonValue({ maxDepth: 2 })
)

const mutate = (value: unknown, pick: number, by: unknown): unknown => {
  const paths = pathsOf(value)
  if (paths.length === 0) return by === DELETE ? undefined : by
  const path = paths[pick % paths.length]!
  const copy = clone(value) as Record<string | number, unknown>
  let parent = copy
  for (const step of path.slice(0, -1)) parent = parent[step] as Record<string | number, unknown>
  const last = path[path.length - 1]!
  if (by === DELETE) Reflect.deleteProperty(parent, last)
  else parent[last] = by
  return copy
}

/** Valid wire JSON of a schema: a generated value, encoded (through JSON, as it arrives). */
const wireOf = <A, I>(schema: Schema.Schema<A, I>, fix: (value: A) => A = (value) => value): fc.Arbitrary<unknown> =>
  Arbitrary.make(schema).map((value) => JSON.parse(JSON.stringify(Schema.encodeSync(schema)(fix(value)))))

/** A known event has `data`: the envelope filter (data xor data_base64) is not on the decoded side. */
const withoutBase64 = <A>(event: A): A => {
  const { data_base64: _, ...rest } = event as A & { readonly data_base64?: unknown }
  return rest as A
}

const RUNS = { numRuns: 100 }

describe("properties over Arbitrary.make(schema)", () => {
  const knownWire = Object.fromEntries(EVENT_TYPES.map((type) => [
    type,
    wireOf(Schema.compose(CloudEvent, KnownEventSchemas[type] as unknown as Schema.Schema<CloudEvent, CloudEvent>, { strict: false }), withoutBase64)
  ]))

  it.each(EVENT_TYPES)("%s: a valid event decodes to the schema's value", (type) => {
    fc.assert(fc.property(knownWire[type]!, (input) => {
      const fast = outcome(fastDecode(input))
      expect(fast).toEqual(outcome(fullDecode(input)))
      expect("valid" in fast).toBe(true)
    }), RUNS)
  })

  it.each(EVENT_TYPES)("%s: a mutated event gets the same answer (value, or first issue)", (type) => {
    fc.assert(fc.property(knownWire[type]!, fc.nat(), replacement, (input, pick, by) => {
      const mutated = mutate(input, pick, by)
      expect(outcome(fastDecode(mutated))).toEqual(outcome(fullDecode(mutated)))
    }), RUNS)
  })

  it.each(EVENT_TYPES)("%s data: the compiled decoder gives the schema's value, or FAIL exactly when it fails", (type) => {
    const schema = EventTypes[type] as unknown as Schema.Schema<unknown, unknown>
    const fast = compileDecoder(schema)
    const full = Schema.decodeUnknownEither(schema)
    const check = (input: unknown) => {
      const expected = full(input)
      const got = fast(input)
      if (Either.isRight(expected)) expect(got).toEqual(expected.right)
      else expect(got).toBe(FAIL)
    }
    fc.assert(fc.property(wireOf(schema), fc.nat(), replacement, (input, pick, by) => {
      check(input)
      check(mutate(input, pick, by))
    }), RUNS)
  })

  it("any envelope (unknown types, extensions) and its mutations get the same answer", () => {
    fc.assert(fc.property(wireOf(CloudEventWire), fc.nat(), replacement, (input, pick, by) => {
      const valid = outcome(fastDecode(input))
      expect(valid).toEqual(outcome(fullDecode(input)))
      const mutated = mutate(input, pick, by)
      expect(outcome(fastDecode(mutated))).toEqual(outcome(fullDecode(mutated)))
    }), { numRuns: 50 })
  })
})
