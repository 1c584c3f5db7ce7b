/** `INGEST_DURABILITY=jetstream` settings, as checked at start-up (src/Startup.ts). */
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Either } from "effect"
import { IngestStreamConfig } from "../../src/ingest/stream/StreamConfig.js"

const read = (env: Record<string, string>) =>
  Effect.either(Effect.withConfigProvider(IngestStreamConfig, ConfigProvider.fromMap(new Map(Object.entries(env)))))

describe("ingest stream settings", () => {
  it.effect("jetstream durability without NATS_URL stops the start, naming NATS_URL", () =>
    Effect.gen(function*() {
      const result = yield* read({ INGEST_DURABILITY: "jetstream" })
      expect(Either.isLeft(result)).toBe(true)
      expect(String(Either.isLeft(result) ? result.left : "")).toMatch(/NATS_URL.*INGEST_DURABILITY=jetstream needs NATS_URL/s)
    }))

  it.effect("with NATS_URL: defaults, and replicas only 1, 3 or 5", () =>
    Effect.gen(function*() {
      const ok = yield* read({ INGEST_DURABILITY: "jetstream", NATS_URL: "nats://n1:4222" })
      expect(Either.isRight(ok)).toBe(true)
      if (Either.isRight(ok)) {
        expect(ok.right.durability).toBe("jetstream")
        expect(ok.right.stream.stream).toBe("MACHPAY_INGEST")
        expect(ok.right.stream.replicas).toBe(1)
        expect(Duration.toMillis(ok.right.stream.ackWait)).toBe(30_000)
      }
      const bad = yield* read({ INGEST_DURABILITY: "jetstream", NATS_URL: "nats://n1:4222", NATS_INGEST_REPLICAS: "2" })
      expect(String(Either.isLeft(bad) ? bad.left : "")).toMatch(/NATS_INGEST_REPLICAS.*must be 1, 3 or 5/s)
    }))

  it.effect("journal durability needs no NATS", () =>
    Effect.gen(function*() {
      expect(Either.isRight(yield* read({}))).toBe(true)
    }))
})
