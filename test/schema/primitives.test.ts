import { Either, Schema } from "effect"
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
    "2025-06-01T12:00:00-23:59"
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
