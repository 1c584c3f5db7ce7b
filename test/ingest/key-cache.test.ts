/**
 * The ingest key cache (finding 8): malformed keys never reach the directory, a flood of
 * unknown keys does not evict known gateways (their stale-if-error cover), and concurrent
 * lookups of one key share one query.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, Option, TestClock } from "effect"
import { randomBytes } from "node:crypto"
import { hashIngestKey } from "../../src/identity/IngestKey.js"
import { DirectoryUnavailable, GatewayDirectory, type GatewayIdentity, makeKeyCache } from "../../src/ingest/GatewayAuth.js"

const newKey = () => `mpk_live_${randomBytes(32).toString("base64url")}`
const KNOWN = newKey()
const gateway: GatewayIdentity = { id: "gw-1", vendorId: "v", rateLimitPerSec: null, rateLimitBytesPerSec: null, signingSecret: null, disabled: false }

/** A directory that counts queries, can be made to fail, and can hold queries until released. */
const fakeDirectory = () => {
  const state = { queries: 0, down: false, gate: undefined as Deferred.Deferred<void> | undefined }
  const layer = Layer.succeed(GatewayDirectory, {
    findByKeyHash: (hash) =>
      Effect.gen(function*() {
        state.queries += 1
        if (state.gate !== undefined) yield* Deferred.await(state.gate)
        if (state.down) return yield* Effect.fail(new DirectoryUnavailable({ cause: "down" }))
        return hash === hashIngestKey(KNOWN) ? Option.some(gateway) : Option.none()
      })
  })
  return { state, layer }
}

describe("ingest key cache", () => {
  it.effect("malformed keys never reach the directory", () => {
    const { state, layer } = fakeDirectory()
    return Effect.gen(function*() {
      const lookup = yield* makeKeyCache("30 seconds")
      for (let i = 0; i < 1000; i++) {
        expect(Option.isNone(yield* lookup(`not-a-key-${i}`))).toBe(true)
        expect(Option.isNone(yield* lookup(`mpk_live_${"x".repeat(i % 40)}`))).toBe(true)
      }
      expect(state.queries).toBe(0)
    }).pipe(Effect.provide(layer))
  })

  it.effect("a flood of unknown keys does not evict a known gateway: it stays served stale during an outage", () => {
    const { state, layer } = fakeDirectory()
    return Effect.gen(function*() {
      const lookup = yield* makeKeyCache("30 seconds", 10, 10)
      expect(Option.isSome(yield* lookup(KNOWN))).toBe(true)
      for (let i = 0; i < 500; i++) yield* lookup(newKey())
      expect(state.queries).toBe(501)
      yield* TestClock.adjust("31 seconds")
      state.down = true
      // Expired, the database down: the known gateway is still served (stale-if-error)...
      expect(yield* lookup(KNOWN)).toEqual(Option.some(gateway))
      // ...while a key never seen gets the failure (503 at the handler).
      expect((yield* Effect.either(lookup(newKey())))._tag).toBe("Left")
    }).pipe(Effect.provide(layer))
  })

  it.effect("misses are cached (briefly): the same unknown key is looked up once", () => {
    const { state, layer } = fakeDirectory()
    return Effect.gen(function*() {
      const lookup = yield* makeKeyCache("30 seconds")
      const unknown = newKey()
      for (let i = 0; i < 100; i++) yield* lookup(unknown)
      expect(state.queries).toBe(1)
      yield* TestClock.adjust("6 seconds")
      yield* lookup(unknown)
      expect(state.queries).toBe(2)
    }).pipe(Effect.provide(layer))
  })

  it.effect("concurrent lookups of one key share one query", () => {
    const { state, layer } = fakeDirectory()
    return Effect.gen(function*() {
      const lookup = yield* makeKeyCache("30 seconds")
      state.gate = yield* Deferred.make<void>()
      const unknown = newKey()
      const fibers = yield* Effect.forEach(Array.from({ length: 50 }), () => Effect.fork(lookup(unknown)))
      const fibersKnown = yield* Effect.forEach(Array.from({ length: 50 }), () => Effect.fork(lookup(KNOWN)))
      yield* Effect.yieldNow()
      yield* Deferred.succeed(state.gate, undefined)
      const results = yield* Effect.forEach([...fibers, ...fibersKnown], (f) => f.await.pipe(Effect.flatten))
      expect(results.filter(Option.isSome)).toHaveLength(50)
      expect(state.queries).toBe(2)
    }).pipe(Effect.provide(layer))
  })

  it.effect("a caller that goes away does not fail the others waiting on its query", () => {
    const { state, layer } = fakeDirectory()
    return Effect.gen(function*() {
      const lookup = yield* makeKeyCache("30 seconds")
      state.gate = yield* Deferred.make<void>()
      const first = yield* Effect.fork(lookup(KNOWN))
      yield* Effect.yieldNow()
      const others = yield* Effect.forEach(Array.from({ length: 5 }), () => Effect.fork(lookup(KNOWN)))
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(first)
      yield* Deferred.succeed(state.gate, undefined)
      const results = yield* Effect.forEach(others, (f) => Fiber.join(f))
      expect(results).toEqual(Array.from({ length: 5 }, () => Option.some(gateway)))
    }).pipe(Effect.provide(layer))
  })
})
