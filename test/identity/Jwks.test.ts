import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { generateKeyPairSync } from "node:crypto"
import { type FetchLike, makeRemoteJwks } from "../../src/identity/Jwks.js"
import { verifyJwt } from "../../src/identity/Jwt.js"
import { signRs256 } from "../../testkit/jwt.js"

const k1 = generateKeyPairSync("rsa", { modulusLength: 2048 })
const k2 = generateKeyPairSync("rsa", { modulusLength: 2048 })
const jwk = (pair: typeof k1, kid: string) => ({ ...pair.publicKey.export({ format: "jwk" }), kid })

/** A fake JWKS endpoint whose answer can be changed and whose calls are counted. */
const fakeEndpoint = (initial: unknown) => {
  const state = { body: initial, ok: true, fail: false, calls: 0 }
  const fetchFn: FetchLike = async (url) => {
    state.calls++
    expect(url).toBe("https://id.example/jwks.json")
    if (state.fail) throw new Error("connection refused")
    return { ok: state.ok, status: state.ok ? 200 : 500, json: async () => state.body }
  }
  return { state, fetchFn }
}

const url = "https://id.example/jwks.json"

describe("makeRemoteJwks", () => {
  it.effect("downloads once and serves from cache within the ttl", () =>
    Effect.gen(function* () {
      const endpoint = fakeEndpoint({ keys: [jwk(k1, "k1")] })
      const jwks = yield* makeRemoteJwks(url, endpoint.fetchFn, "10 minutes")
      const first = yield* jwks.getKey("k1")
      expect(first.asymmetricKeyType).toBe("rsa")
      yield* jwks.getKey("k1")
      yield* TestClock.adjust("9 minutes")
      yield* jwks.getKey("k1")
      expect(endpoint.state.calls).toBe(1)
      yield* TestClock.adjust("2 minutes")
      yield* jwks.getKey("k1")
      expect(endpoint.state.calls).toBe(2)
    }))

  it.effect("shares one download between concurrent callers", () =>
    Effect.gen(function* () {
      const endpoint = fakeEndpoint({ keys: [jwk(k1, "k1")] })
      const jwks = yield* makeRemoteJwks(url, endpoint.fetchFn)
      yield* Effect.all(Array.from({ length: 10 }, () => jwks.getKey("k1")), { concurrency: "unbounded" })
      expect(endpoint.state.calls).toBe(1)
    }))

  it.effect("refetches for an unknown kid (rotation), at most once per interval", () =>
    Effect.gen(function* () {
      const endpoint = fakeEndpoint({ keys: [jwk(k1, "k1")] })
      const jwks = yield* makeRemoteJwks(url, endpoint.fetchFn, "1 hour", { minRefreshInterval: "30 seconds" })
      yield* jwks.getKey("k1")
      endpoint.state.body = { keys: [jwk(k1, "k1"), jwk(k2, "k2")] }
      // Too soon after the last download: unknown kids do not trigger a new one.
      expect((yield* Effect.flip(jwks.getKey("k2"))).reason).toBe("unknown signing key")
      expect(endpoint.state.calls).toBe(1)
      yield* TestClock.adjust("31 seconds")
      yield* jwks.getKey("k2")
      expect(endpoint.state.calls).toBe(2)
      // Made-up kids cannot hammer the issuer.
      for (let i = 0; i < 5; i++) yield* Effect.flip(jwks.getKey(`bogus-${i}`))
      expect(endpoint.state.calls).toBe(2)
    }))

  it.effect("reports unavailable keys when the first download fails, and backs off", () =>
    Effect.gen(function* () {
      const endpoint = fakeEndpoint({ keys: [jwk(k1, "k1")] })
      endpoint.state.fail = true
      const jwks = yield* makeRemoteJwks(url, endpoint.fetchFn)
      expect((yield* Effect.flip(jwks.getKey("k1"))).reason).toBe("signing keys unavailable")
      expect((yield* Effect.flip(jwks.getKey("k1"))).reason).toBe("signing keys unavailable")
      expect(endpoint.state.calls).toBe(1)
      endpoint.state.fail = false
      yield* TestClock.adjust("30 seconds")
      yield* jwks.getKey("k1")
      expect(endpoint.state.calls).toBe(2)
    }))

  it.effect("treats a non-2xx answer as a failure", () =>
    Effect.gen(function* () {
      const endpoint = fakeEndpoint({ keys: [jwk(k1, "k1")] })
      endpoint.state.ok = false
      const jwks = yield* makeRemoteJwks(url, endpoint.fetchFn)
      expect((yield* Effect.flip(jwks.getKey("k1"))).reason).toBe("signing keys unavailable")
    }))

  it.effect("keeps serving the previous keys when a refresh fails", () =>
    Effect.gen(function* () {
      const endpoint = fakeEndpoint({ keys: [jwk(k1, "k1")] })
      const jwks = yield* makeRemoteJwks(url, endpoint.fetchFn, "1 minute")
      yield* jwks.getKey("k1")
      endpoint.state.fail = true
      yield* TestClock.adjust("2 minutes")
      yield* jwks.getKey("k1")
      expect(endpoint.state.calls).toBe(2)
    }))

  it.effect("verifies RS256 tokens end to end", () =>
    Effect.gen(function* () {
      const endpoint = fakeEndpoint({ keys: [jwk(k1, "k1"), jwk(k2, "k2")] })
      const jwks = yield* makeRemoteJwks(url, endpoint.fetchFn)
      const now = 1_700_000_000
      const token = signRs256({ sub: "ag_1", role: "agent", agent_id: "ag_1", iat: now, exp: now + 60 }, k2.privateKey, "k2")
      const principal = yield* verifyJwt(token, { jwks, clockSkewSeconds: 30, now })
      expect(principal).toEqual({ role: "agent", agentId: "ag_1", subject: "ag_1", expiresAt: now + 60 })
    }))
})
