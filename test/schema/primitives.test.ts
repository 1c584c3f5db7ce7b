import { Either, Schema } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import {
  AgentId,
  Asset,
  canAdvanceIntent,
  HttpMethod,
  Identifier,
  intentStatusRank,
  isRfc3339,
  Money,
  Network,
  Rfc3339,
  rfc3339ToEpochMillis,
  Route
} from "../../schema/index.js"
import { decodeRejection } from "./helpers.js"

const ok = <A, I>(schema: Schema.Schema<A, I>, input: unknown) =>
  expect(Either.isRight(Schema.decodeUnknownEither(schema)(input)), JSON.stringify(input)).toBe(true)
const bad = <A, I>(schema: Schema.Schema<A, I>, input: unknown) =>
  expect(Either.isLeft(Schema.decodeUnknownEither(schema)(input)), JSON.stringify(input)).toBe(true)

describe("Money", () => {
  it.each(["0", "0.25", "12.5", "295.000000", "99999999999999999999", `1.${"0".repeat(18)}`])("accepts %s", (m) =>
    ok(Money, m))

  it.each([
    ["a number", 1.5],
    ["an exponent", "1e5"],
    ["a sign", "-1"],
    ["a plus sign", "+1"],
    ["a leading zero", "01"],
    ["a trailing dot", "1."],
    ["a leading dot", ".5"],
    ["19 decimals", `0.${"1".repeat(19)}`],
    ["21 integer digits", "1".repeat(21)],
    ["an empty string", ""],
    ["spaces", " 1"]
  ])("rejects %s", (_, m) => bad(Money, m))

  it("explains a JSON number with an example", () => {
    expect(decodeRejection(Money, 1.5)?.reason).toBe("must be a decimal string such as \"0.25\"")
  })
})

describe("identifiers", () => {
  it("accepts ids up to the limit and rejects longer or odd ones", () => {
    ok(AgentId, "agent-7f3a")
    ok(AgentId, "a".repeat(128))
    bad(AgentId, "a".repeat(129))
    ok(Identifier, "a".repeat(256))
    bad(Identifier, "a".repeat(257))
    bad(AgentId, "-starts-with-dash")
    bad(AgentId, "has space")
    bad(AgentId, "")
    ok(Identifier, "req:01HZX.8_k-2")
  })
})

describe("small strings", () => {
  it("Asset, Network, HttpMethod, Route", () => {
    ok(Asset, "USDC")
    bad(Asset, "US DC")
    ok(Network, "base-sepolia")
    bad(Network, "Base")
    ok(HttpMethod, "OPTIONS")
    bad(HttpMethod, "get")
    ok(Route, "/v1/weather/{city}")
    bad(Route, "v1/weather")
    bad(Route, `/${"a".repeat(512)}`)
    bad(Route, "/with space")
  })
})

describe("Rfc3339", () => {
  it.each([
    "2025-06-01T12:00:00Z",
    "2025-06-01t12:00:00z",
    "2024-02-29T23:59:59.999+05:30",
    "2025-06-01T12:00:00.123456789-08:00",
    "2025-06-01T12:00:00+14:00",
    "2025-06-01T12:00:00-15:59"
  ])("accepts %s", (t) => ok(Rfc3339, t))

  it.each([
    "nope",
    "2024-02-30T00:00:00Z",
    "2023-02-29T00:00:00Z",
    "2025-04-31T00:00:00Z",
    "2025-13-01T00:00:00Z",
    "2025-06-01T24:00:00Z",
    "2025-06-01T12:60:00Z",
    "2025-06-01T12:00:00",
    "2025-06-01 12:00:00Z",
    "2025-06-01",
    "2025-06-01T12:00:00+24:00",
    // Beyond what PostgreSQL stores (SQLSTATE 22009): refused at the door, not after the ack.
    "2025-06-01T12:00:00+16:00",
    "2025-06-01T12:00:00-23:59",
    // Year 0: RFC 3339 allows it, PostgreSQL does not (SQLSTATE 22008; an intent's expires_at was
    // acknowledged and then dead-lettered, an outside probe).
    "0000-01-01T00:00:00Z",
    "0000-12-31T23:59:59+15:59",
    // Year 1 by its text, year 0 in UTC (stored as 1 BC, and read back as year 0).
    "0001-01-01T00:30:00+01:00"
  ])("rejects %s", (t) => bad(Rfc3339, t))

  it("stays a string when decoded and encoded", () => {
    const decoded = Schema.decodeUnknownEither(Rfc3339)("2025-06-01T12:00:00Z")
    expect(decoded).toEqual(Either.right("2025-06-01T12:00:00Z"))
  })

  it("converts to epoch milliseconds, honouring the offset", () => {
    expect(rfc3339ToEpochMillis("2025-06-01T12:00:00Z")).toBe(Date.UTC(2025, 5, 1, 12))
    expect(rfc3339ToEpochMillis("2025-06-01T14:00:00.5+02:00")).toBe(Date.UTC(2025, 5, 1, 12, 0, 0, 500))
    expect(rfc3339ToEpochMillis("2025-06-01T11:30:00.1239-00:30")).toBe(Date.UTC(2025, 5, 1, 12, 0, 0, 123))
    expect(rfc3339ToEpochMillis("0099-01-01T00:00:00Z")).toBe(Date.parse("0099-01-01T00:00:00Z"))
    expect(rfc3339ToEpochMillis("nope")).toBeNaN()
    expect(isRfc3339("2024-02-30T00:00:00Z")).toBe(false)
  })
})

/** The regular-expression parser this module had before 2026-12-07: the reference for the hand-written one. */
const referenceEpochMillis = (value: string): number => {
  const m = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/.exec(value)
  if (m === null) return Number.NaN
  const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i]))
  const dim = month === 2 ? ((year! % 4 === 0 && year! % 100 !== 0) || year! % 400 === 0 ? 29 : 28) : [4, 6, 9, 11].includes(month!) ? 30 : 31
  if (year! < 1 || month! < 1 || month! > 12 || day! < 1 || day! > dim || hour! > 23 || minute! > 59 || second! > 59) return Number.NaN
  let offset = 0
  if (m[8] === undefined) {
    if (Number(m[10]) > 15 || Number(m[11]) > 59) return Number.NaN
    offset = (m[9] === "-" ? -1 : 1) * (Number(m[10]) * 60 + Number(m[11]))
  }
  const date = new Date(0)
  date.setUTCFullYear(year!, month! - 1, day!)
  date.setUTCHours(hour!, minute!, second!, m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, "0")))
  const ms = date.getTime() - offset * 60_000
  return ms < FIRST_INSTANT ? Number.NaN : ms
}

/** 0001-01-01T00:00:00Z (`Date.UTC` would read year 1 as 1901). */
const FIRST_INSTANT = new Date(0).setUTCFullYear(1, 0, 1)

describe("rfc3339ToEpochMillis agrees with the regular-expression reference", () => {
  const digit = fc.constantFrom(..."0123456789")
  const part = (n: number) => fc.array(fc.oneof(digit, digit, digit, fc.constantFrom("a", ":", "-", " ", "٣")), { minLength: n - 1, maxLength: n + 1 }).map((a) => a.join(""))
  const num = (min: number, max: number, width: number) => fc.integer({ min, max }).map((n) => String(n).padStart(width, "0"))
  /** `mutate`: how often a piece is replaced by noise or a wrong separator (0 = well-formed, in range or just out of it). */
  const candidate = (mutate: number) => {
    const piece = (valid: fc.Arbitrary<string>, n: number) =>
      mutate === 0 ? valid : fc.oneof({ weight: 8, arbitrary: valid }, { weight: mutate, arbitrary: part(n) })
    const sep = (valid: string, ...wrong: Array<string>) =>
      mutate === 0 ? fc.constant(valid) : fc.oneof({ weight: 8, arbitrary: fc.constant(valid) }, { weight: mutate, arbitrary: fc.constantFrom(...wrong) })
    return fc.tuple(
      piece(num(0, 9999, 4), 4), sep("-", "/"), piece(num(0, 13, 2), 2), sep("-", "."), piece(num(0, 32, 2), 2),
      fc.constantFrom("T", "t", ...(mutate === 0 ? [] : [" "])), piece(num(0, 24, 2), 2), sep(":", ";"), piece(num(0, 60, 2), 2),
      sep(":", "."), piece(num(0, 60, 2), 2),
      fc.oneof(fc.constant(""), fc.array(digit, { minLength: mutate === 0 ? 1 : 0, maxLength: mutate === 0 ? 9 : 11 }).map((d) => `.${d.join("")}`)),
      fc.oneof(
        fc.constantFrom("Z", "z", ...(mutate === 0 ? [] : ["", "Zz", "+", "UTC"])),
        fc.tuple(fc.constantFrom("+", "-"), piece(num(0, 24, 2), 2), sep(":", ""), piece(num(0, 60, 2), 2)).map((t) => t.join(""))
      )
    ).map((t) => t.join(""))
  }

  it("on 20,000 well-formed and 20,000 mutated strings, and on the edges", () => {
    for (const edge of ["0000-01-01T00:00:00Z", "0000-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "9999-12-31T23:59:59.999999999-15:59", "1969-12-31T23:59:59.9991Z", "2025-06-01T12:00:00.Z", "2025-06-01T12:00:00.1234567890Z"]) {
      expect(rfc3339ToEpochMillis(edge), edge).toEqual(referenceEpochMillis(edge))
    }
    const agrees = (value: string) => Object.is(rfc3339ToEpochMillis(value), referenceEpochMillis(value))
    const wellFormed = fc.sample(candidate(0), 20_000)
    // Most well-formed strings are valid instants (the rest are day 31 of April, hour 24…).
    expect(wellFormed.filter((v) => !Number.isNaN(referenceEpochMillis(v))).length).toBeGreaterThan(10_000)
    for (const value of wellFormed) expect(agrees(value), value).toBe(true)
    fc.assert(fc.property(candidate(1), agrees), { numRuns: 20_000 })
  })
})

describe("intent status", () => {
  it("ranks pending < submitted < terminal, and only moves forward", () => {
    expect(intentStatusRank("pending")).toBe(0)
    expect(intentStatusRank("submitted")).toBe(1)
    expect([intentStatusRank("settled"), intentStatusRank("failed"), intentStatusRank("expired")]).toEqual([2, 2, 2])
    expect(canAdvanceIntent("pending", "settled")).toBe(true)
    expect(canAdvanceIntent("submitted", "pending")).toBe(false)
    expect(canAdvanceIntent("settled", "failed")).toBe(false)
  })
})
