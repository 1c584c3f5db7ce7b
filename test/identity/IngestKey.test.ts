import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import {
  constantTimeEqual,
  generateIngestKey,
  hashIngestKey,
  isIngestKeyFormat,
  keyPrefix,
  parseBearer,
  verifyIngestKey
} from "../../src/identity/IngestKey.js"

describe("IngestKey", () => {
  it.effect("generates distinct keys of the documented shape", () =>
    Effect.gen(function* () {
      const a = yield* generateIngestKey
      const b = yield* generateIngestKey
      expect(a).toMatch(/^mpk_live_[A-Za-z0-9_-]{43}$/)
      expect(a).toHaveLength(9 + 43)
      expect(a).not.toBe(b)
      expect(isIngestKeyFormat(a)).toBe(true)
      expect(isIngestKeyFormat("mpk_live_short")).toBe(false)
      expect(isIngestKeyFormat(`${a}x`)).toBe(false)
    }))

  it("hashes to stable lowercase hex sha-256", () => {
    const key = "mpk_live_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    expect(hashIngestKey(key)).toBe(hashIngestKey(key))
    expect(hashIngestKey(key)).toMatch(/^[0-9a-f]{64}$/)
    // Known vector: sha256("abc")
    expect(hashIngestKey("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    expect(hashIngestKey(key)).not.toBe(hashIngestKey(`${key.slice(0, -1)}B`))
  })

  it("shows a 12-character prefix", () => {
    expect(keyPrefix("mpk_live_abcdefghijk")).toBe("mpk_live_abc")
    expect(keyPrefix("short")).toBe("short")
  })

  it("verifies a key against its stored hash", () => {
    const key = "mpk_live_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    const stored = hashIngestKey(key)
    expect(verifyIngestKey(key, stored)).toBe(true)
    expect(verifyIngestKey(key, stored.toUpperCase())).toBe(true)
    expect(verifyIngestKey(`${key}x`, stored)).toBe(false)
    expect(constantTimeEqual("a", "a")).toBe(true)
    expect(constantTimeEqual("a", "ab")).toBe(false)
  })

  it("parses bearer headers", () => {
    expect(parseBearer("Bearer abc.def")).toEqual(Option.some("abc.def"))
    expect(parseBearer("bearer abc")).toEqual(Option.some("abc"))
    expect(parseBearer("BEARER   abc  ")).toEqual(Option.some("abc"))
    expect(parseBearer("  Bearer abc")).toEqual(Option.some("abc"))
  })

  it("rejects missing, empty and non-bearer credentials", () => {
    expect(parseBearer(undefined)).toEqual(Option.none())
    expect(parseBearer("")).toEqual(Option.none())
    expect(parseBearer("Bearer")).toEqual(Option.none())
    expect(parseBearer("Bearer    ")).toEqual(Option.none())
    expect(parseBearer("Basic dXNlcjpwYXNz")).toEqual(Option.none())
    expect(parseBearer("Bearerabc")).toEqual(Option.none())
    expect(parseBearer("Token abc")).toEqual(Option.none())
    expect(parseBearer("Bearer abc def")).toEqual(Option.none())
  })
})
