import { describe, expect, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { createHmac } from "node:crypto"
import { signBinary } from "../../gateway/Signing.js"
import {
  binaryHeaderBlock,
  parseSignatureHeader,
  ReplayGuard,
  replayKey,
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

const reasonOf = <A>(effect: Effect.Effect<A, SignatureError>) =>
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

  it.effect("accepts a verifier holding several secrets (rotation on our side)", () =>
    Effect.gen(function* () {
      yield* verify(signRequest("new-secret", body, now), { secret: ["old-secret", "new-secret"] })
      yield* verify(signRequest("old-secret", body, now), { secret: ["old-secret", "new-secret"] })
      expect(yield* reasonOf(verify(signRequest("third", body, now), { secret: ["old-secret", "new-secret"] }))).toBe("mismatch")
    }))

  it.effect("refuses every variant of a valid header as malformed, saying what is wrong", () =>
    Effect.gen(function* () {
      const header = signRequest(secret, body, now)
      const v1 = header.slice(header.indexOf("v1=") + 3)
      const variants: ReadonlyArray<readonly [string, string]> = [
        [`t=${now},v1=${v1.toUpperCase()}`, "lowercase hex"],
        [`t=${now}, v1=${v1}`, "whitespace"],
        [`t=${now} ,v1=${v1}`, "whitespace"],
        [`${header},v0=x`, "unknown entry"],
        [`v0=deadbeef,${header}`, "unknown entry"],
        [`${header},v1=${v1}`, "more than one v1"],
        [`${header},v1=${"b".repeat(64)}`, "more than one v1"],
        [`t=0${now},v1=${v1}`, "leading zeros"],
        [`${header},`, "unknown entry"],
        [`t=${now},v1=${v1.slice(2)}`, "64 lowercase hex"]
      ]
      for (const [variant, detail] of variants) {
        const error = yield* Effect.flip(verify(variant))
        expect(error.reason, variant).toBe("malformed")
        expect(error.message, variant).toContain(detail)
        expect(error.message).toContain("t=<unix seconds>,v1=<64 lowercase hex digits>")
      }
      expect(parseSignatureHeader(header)).toMatchObject({ timestamp: now })
    }))

  it.effect("a verified request yields its timestamp; the replay key depends on gateway, time and body only", () =>
    Effect.gen(function* () {
      const verified = yield* verify(signRequest(secret, body, now))
      expect(verified).toEqual({ timestamp: now })
      const key = replayKey("gw-1", verified, body)
      expect(replayKey("gw-1", { timestamp: now }, new Uint8Array(body))).toBe(key)
      expect(replayKey("gw-2", verified, body)).not.toBe(key)
      expect(replayKey("gw-1", { timestamp: now + 1 }, body)).not.toBe(key)
      expect(replayKey("gw-1", verified, new TextEncoder().encode("{}"))).not.toBe(key)
    }))

  describe("binary mode: the ce-* headers, content-type and content-encoding are signed with the body", () => {
    const data = new TextEncoder().encode(`{"amount":"1.00"}`)
    const headers = {
      "content-type": "application/json",
      "ce-specversion": "1.0",
      "ce-id": "e1",
      "ce-source": "machpay://gateway/gw-1",
      "ce-type": "PaymentAuthorized",
      authorization: "Bearer x",
      "x-machpay-signature": "ignored"
    }
    const verifyBinary = (header: string, requestHeaders: Record<string, string>) =>
      verifySignature({ header, body: data, headerBlock: binaryHeaderBlock(requestHeaders), secret, nowSeconds: now, toleranceSeconds: 300 })

    it("the block is the covered headers as sorted name:value lines and an empty line", () => {
      expect(binaryHeaderBlock(headers)).toBe(
        "ce-id:e1\nce-source:machpay://gateway/gw-1\nce-specversion:1.0\nce-type:PaymentAuthorized\ncontent-type:application/json\n\n"
      )
    })

    it.effect("the gateway library's signature verifies; changing any signed header or the body does not", () =>
      Effect.gen(function* () {
        const header = signBinary(secret, headers, data, now)
        yield* verifyBinary(header, headers)
        for (const changed of [{ "ce-id": "e2" }, { "ce-time": "2026-01-01T00:00:00Z" }, { "content-type": "text/plain" }]) {
          expect(yield* reasonOf(verifyBinary(header, { ...headers, ...changed })), JSON.stringify(changed)).toBe("mismatch")
        }
        // Headers outside the block may change (a proxy adds its own).
        yield* verifyBinary(header, { ...headers, "x-forwarded-for": "10.0.0.1" })
        const tampered = yield* Effect.flip(verifySignature({
          header, body: new TextEncoder().encode(`{"amount":"9.00"}`), headerBlock: binaryHeaderBlock(headers), secret, nowSeconds: now, toleranceSeconds: 300
        }))
        expect(tampered.reason).toBe("mismatch")
      }))

    it.effect("a signature over the body alone is refused, and the message says what is missing", () =>
      Effect.gen(function* () {
        const error = yield* Effect.flip(verifyBinary(signRequest(secret, data, now), headers))
        expect(error.reason).toBe("mismatch")
        expect(error.message).toContain("in binary mode the ce-*, content-type and content-encoding headers are signed too")
        // A plain wrong signature gets no hint.
        expect((yield* Effect.flip(verifyBinary(signRequest("other", data, now), headers))).message).toBe("request signature does not match")
      }))

    it.effect("content-encoding is signed (it decides how the signed bytes are read); the library signs values as the server reads them", () =>
      Effect.gen(function* () {
        const gzipped = { ...headers, "content-encoding": "gzip" }
        const header = signBinary(secret, gzipped, data, now)
        yield* verifyBinary(header, gzipped)
        // Dropping (or adding) the encoding would store the compressed bytes as the event's data.
        expect(yield* reasonOf(verifyBinary(header, headers))).toBe("mismatch")
        expect(yield* reasonOf(verifyBinary(signBinary(secret, headers, data, now), gzipped))).toBe("mismatch")
        // Node strips surrounding spaces and tabs from header values; the library signs them stripped.
        yield* verifyBinary(signBinary(secret, { ...headers, "ce-subject": "  café \t" }, data, now), { ...headers, "ce-subject": "café" })
        expect(() => signBinary(secret, { ...headers, "Content-Type": "text/plain" }, data, now)).toThrow("content-type given twice")
      }))

    it("sorts whole lines, as documented: ce-ext1 before ce-ext", () => {
      expect(binaryHeaderBlock({ "ce-ext": "a", "ce-ext1": "b" })).toBe("ce-ext1:b\nce-ext:a\n\n")
    })

    it("two binary requests with the same body and time but different ids have different replay keys", () => {
      const block = binaryHeaderBlock(headers)
      expect(replayKey("gw-1", { timestamp: now }, data, block)).not.toBe(
        replayKey("gw-1", { timestamp: now }, data, binaryHeaderBlock({ ...headers, "ce-id": "e2" }))
      )
      expect(replayKey("gw-1", { timestamp: now }, data, block)).not.toBe(replayKey("gw-1", { timestamp: now }, data))
    })
  })

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

  it("a released claim can be claimed again (a request that was not accepted may be re-sent)", () => {
    const guard = new ReplayGuard({ windowSeconds: 600, maxEntries: 100 })
    expect(guard.claim("k", now)).toBe(true)
    expect(guard.claim("k", now + 1)).toBe(false) // held: a concurrent copy is refused
    guard.release("k")
    expect(guard.claim("k", now + 2)).toBe(true)
    expect(guard.claim("k", now + 3)).toBe(false)
  })
})
