import { describe, expect, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { createHmac } from "node:crypto"
import {
  parseSignatureHeader,
  ReplayGuard,
  SignatureError,
  signRequest,
  verifySignature
} from "../../src/identity/RequestSignature.js"

const secret = "whsec_test_secret"
const body = new TextEncoder().encode(`{"specversion":"1.0","id":"e1","type":"PaymentAuthorized"}`)
const now = 1_700_000_000

const verify = (header: string | undefined, overrides: { body?: Uint8Array; nowSeconds?: number; secret?: string | ReadonlyArray<string> } = {}) =>
  verifySignature({
    header,
    body: overrides.body ?? body,
    secret: overrides.secret ?? secret,
    nowSeconds: overrides.nowSeconds ?? now,
    toleranceSeconds: 300
  })

const reasonOf = (effect: Effect.Effect<void, SignatureError>) =>
  Effect.flip(effect).pipe(Effect.map((e) => e.reason))

describe("RequestSignature", () => {
  it("produces the documented header format", () => {
    const header = signRequest(secret, body, now)
    const expected = createHmac("sha256", secret).update(`${now}.`).update(body).digest("hex")
    expect(header).toBe(`t=${now},v1=${expected}`)
  })

  it.effect("accepts a good signature, including from a Redacted secret", () =>
    Effect.gen(function* () {
      yield* verify(signRequest(secret, body, now))
      yield* verify(signRequest(Redacted.make(secret), body, now - 299))
      yield* verifySignature({
        header: signRequest(secret, body, now),
        body,
        secret: Redacted.make(secret),
        nowSeconds: now,
        toleranceSeconds: 300
      })
    }))

  it.effect("reports a missing header", () =>
    Effect.gen(function* () {
      expect(yield* reasonOf(verify(undefined))).toBe("missing")
      expect(yield* reasonOf(verify("   "))).toBe("missing")
    }))

  it.effect("reports malformed headers", () =>
    Effect.gen(function* () {
      const v1 = "a".repeat(64)
      for (const header of [
        "garbage",
        `v1=${v1}`,
        `t=${now}`,
        `t=abc,v1=${v1}`,
        `t=${now},t=${now},v1=${v1}`,
        `t=${now},v1=xyz`,
        `t=${now},v1=${"a".repeat(63)}`,
        `t=-5,v1=${v1}`
      ]) {
        expect(yield* reasonOf(verify(header)), header).toBe("malformed")
      }
    }))

  it.effect("rejects timestamps outside the window in both directions", () =>
    Effect.gen(function* () {
      expect(yield* reasonOf(verify(signRequest(secret, body, now - 301)))).toBe("expired")
      expect(yield* reasonOf(verify(signRequest(secret, body, now + 301)))).toBe("expired")
      yield* verify(signRequest(secret, body, now + 300))
      yield* verify(signRequest(secret, body, now - 300))
    }))

  it.effect("rejects a wrong secret, a tampered body and a tampered timestamp", () =>
    Effect.gen(function* () {
      expect(yield* reasonOf(verify(signRequest("other", body, now)))).toBe("mismatch")
      const tampered = new Uint8Array(body)
      tampered[5] = (tampered[5] ?? 0) ^ 1
      expect(yield* reasonOf(verify(signRequest(secret, body, now), { body: tampered }))).toBe("mismatch")
      const moved = signRequest(secret, body, now).replace(`t=${now}`, `t=${now + 1}`)
      expect(yield* reasonOf(verify(moved))).toBe("mismatch")
      // An empty secret never verifies anything.
      expect(yield* reasonOf(verify(signRequest("", body, now), { secret: "" }))).toBe("mismatch")
    }))

  it.effect("checks the signature before the window (forged stale requests read as mismatch)", () =>
    Effect.gen(function* () {
      expect(yield* reasonOf(verify(signRequest("other", body, now - 10_000)))).toBe("mismatch")
    }))

  it.effect("supports key rotation on both sides", () =>
    Effect.gen(function* () {
      // The sender signs with old and new secrets; a verifier holding either accepts.
      const both = signRequest(["old-secret", "new-secret"], body, now)
      expect(parseSignatureHeader(both)?.signatures).toHaveLength(2)
      yield* verify(both, { secret: "old-secret" })
      yield* verify(both, { secret: "new-secret" })
      // The verifier holds old and new secrets; a sender using either is accepted.
      yield* verify(signRequest("new-secret", body, now), { secret: ["old-secret", "new-secret"] })
      expect(yield* reasonOf(verify(both, { secret: "third" }))).toBe("mismatch")
    }))

  it.effect("ignores unknown schemes and whitespace", () =>
    Effect.gen(function* () {
      const header = signRequest(secret, body, now)
      yield* verify(`v0=deadbeef, ${header.replace(",", " , ")}`)
    }))

  it("exposes a readable message without secrets", () => {
    const error = new SignatureError({ reason: "expired" })
    expect(error._tag).toBe("SignatureError")
    expect(error.message).toContain("window")
  })
})

describe("ReplayGuard", () => {
  it("remembers signatures within the window", () => {
    const guard = new ReplayGuard({ windowSeconds: 600, maxEntries: 100 })
    expect(guard.seen("sig-a", now)).toBe(false)
    expect(guard.seen("sig-a", now + 1)).toBe(true)
    expect(guard.seen("sig-b", now + 1)).toBe(false)
    expect(guard.seen("sig-a", now + 599)).toBe(true)
  })

  it("forgets signatures once they expire", () => {
    const guard = new ReplayGuard({ windowSeconds: 600, maxEntries: 100 })
    guard.seen("sig-a", now)
    guard.seen("sig-b", now + 300)
    expect(guard.seen("sig-a", now + 600)).toBe(false)
    expect(guard.size).toBe(2) // sig-a re-recorded, sig-b still live
    expect(guard.seen("sig-b", now + 899)).toBe(true)
    guard.seen("sig-c", now + 5000)
    expect(guard.size).toBe(1)
  })

  it("stays bounded, evicting the oldest entries", () => {
    const guard = new ReplayGuard({ windowSeconds: 600, maxEntries: 3 })
    for (const sig of ["a", "b", "c", "d"]) expect(guard.seen(sig, now)).toBe(false)
    expect(guard.size).toBe(3)
    expect(guard.seen("d", now)).toBe(true)
    expect(guard.seen("b", now)).toBe(true)
    expect(guard.seen("a", now)).toBe(false) // evicted
    expect(guard.size).toBe(3)
    for (let i = 0; i < 1000; i++) guard.seen(`x${i}`, now)
    expect(guard.size).toBe(3)
  })
})
