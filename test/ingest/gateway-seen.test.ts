/**
 * Last-seen writes under `TestClock`: a write on a connection that hangs is abandoned at the
 * write timeout, its values are kept, and the next write carries them.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, TestClock } from "effect"
import type { EventStore, GatewaySeen } from "../../src/ingest/EventStore.js"
import { startGatewaySeen } from "../../src/ingest/GatewaySeen.js"
import { wireEvent } from "../support/ingestEvents.js"
import { toIngestEvent } from "./support.js"

describe("gateway last-seen writer", () => {
  it.scoped("a write that hangs is abandoned at the write timeout; the next write carries its gateways", () =>
    Effect.gen(function*() {
      const written: Array<ReadonlyArray<string>> = []
      let hangs = 1
      const store: EventStore["Type"] = {
        write: () => Effect.succeed({ inserted: new Set<string>() }),
        deadLetter: () => Effect.void,
        touchGateways: (seen: ReadonlyMap<string, GatewaySeen>) =>
          Effect.suspend(() => {
            if (hangs > 0) {
              hangs -= 1
              // Neither the write nor its clean-up ever finishes (a connection hung without an error).
              return Effect.never.pipe(Effect.ensuring(Effect.never))
            }
            written.push([...seen.keys()])
            return Effect.void
          })
      }
      const seen = yield* startGatewaySeen(store, Duration.seconds(5))
      seen.track(toIngestEvent(wireEvent("PaymentAuthorized", { id: "p1", time: "2025-06-01T12:00:00Z", gateway: "gw-a" }), { gatewayId: "gw-a" }))
      yield* TestClock.adjust(Duration.seconds(1)) // the periodic write starts, and hangs
      expect(written).toEqual([])
      yield* TestClock.adjust(Duration.seconds(5)) // abandoned
      yield* TestClock.adjust(Duration.seconds(1)) // the next periodic write
      expect(written).toEqual([["gw-a"]])
    }))
})
