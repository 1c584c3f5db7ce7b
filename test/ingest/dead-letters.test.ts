/**
 * The dead-letter writer under `TestClock`: a write on a connection that hangs is abandoned at the
 * write timeout (INGEST_WRITE_TIMEOUT) and retried; its rows are kept and written by the retry.
 */
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Context, Duration, Effect, Layer, TestClock } from "effect"
import { DeadLetters, DeadLettersLive } from "../../src/ingest/DeadLetters.js"
import { type DeadLetter, EventStore } from "../../src/ingest/EventStore.js"

describe("dead-letter writer", () => {
  it.scoped("a write that hangs is abandoned at the write timeout and retried with the same rows", () =>
    Effect.gen(function*() {
      const written: Array<ReadonlyArray<string | undefined>> = []
      let attempts = 0
      const store: EventStore["Type"] = {
        write: () => Effect.succeed({ inserted: new Set<string>() }),
        touchGateways: () => Effect.void,
        deadLetter: (rows: ReadonlyArray<DeadLetter>) =>
          Effect.suspend(() => {
            attempts += 1
            // The first attempt and its clean-up never finish (a connection hung without an error).
            if (attempts === 1) return Effect.never.pipe(Effect.ensuring(Effect.never))
            written.push(rows.map((row) => row.eventId))
            return Effect.void
          })
      }
      const layer = DeadLettersLive.pipe(
        Layer.provide(Layer.succeed(EventStore, store)),
        Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["INGEST_WRITE_TIMEOUT", "5 seconds"]]))))
      )
      // Built in the test's scope, so its writer fiber lives until the test ends.
      const deadLetters = Context.get(yield* Layer.build(layer), DeadLetters)
      yield* deadLetters.record("gw-a", [{ index: 0, id: "bad-1", reason: "nests too deep", field: "data", payload: { a: 1 } }], 0)
      yield* TestClock.adjust(Duration.seconds(1)) // the batch window closes; the write starts and hangs
      expect(attempts).toBe(1)
      yield* TestClock.adjust(Duration.seconds(4))
      expect(written).toEqual([]) // still waiting: the timeout is 5 s
      yield* TestClock.adjust(Duration.seconds(1)) // abandoned, then retried after 100 ms
      yield* TestClock.adjust(Duration.millis(100))
      expect(written).toEqual([["bad-1"]])
    }))
})
