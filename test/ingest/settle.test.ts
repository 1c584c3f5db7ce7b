/**
 * Settling a flush: the store's verdict becomes one outcome per submitted event — the first
 * item of a key carries it, repeats are duplicates, refusals are rejected with a field — and a
 * waiting request is completed only by the flush that settles its last item.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Metric, MetricLabel } from "effect"
import type { Ack, Flushed, Item } from "../../src/ingest/Batcher.js"
import { encodedRow, eventKey } from "../../src/ingest/IngestEvent.js"
import { completeAcks, countOutcomes, settleFlushed } from "../../src/ingest/Settle.js"
import * as Metrics from "../../src/ingest/Metrics.js"
import { wireEvent } from "../support/ingestEvents.js"
import { toIngestEvent } from "./support.js"

const item = (id: string, index: number, ack?: Ack): Item => {
  const event = toIngestEvent(wireEvent("PaymentAuthorized", { id, time: "2025-06-01T12:00:00Z" }))
  return { event, row: Buffer.from(encodedRow(event)), key: eventKey(event), index, ack, ref: undefined }
}

const flushed = (items: ReadonlyArray<Item>, inserted: ReadonlyArray<Item>, refused: ReadonlyArray<readonly [Item, string]>): Flushed => ({
  route: "PaymentAuthorized",
  items,
  inserted: new Set(inserted.map((i) => i.key)),
  refused: new Map(refused),
  statements: 1,
  startedAt: 0,
  finishedAt: 1
})

describe("settleFlushed", () => {
  it.effect("accepted, duplicate, repeated and refused items each get their outcome", () =>
    Effect.gen(function*() {
      const done = yield* Deferred.make<void>()
      let settledCalls = 0
      const ack: Ack = { remaining: 4, outcomes: ["accepted", "accepted", "accepted", "accepted"], done, onSettled: () => settledCalls++ }
      const fresh = item("fresh", 0, ack)
      const old = item("old", 1, ack)
      const repeat = item("fresh", 2, ack)
      const poison = item("poison", 3, ack)
      const settled = settleFlushed(flushed([fresh, old, repeat, poison], [fresh], [[poison, "index row too large"]]))

      expect(ack.outcomes.slice(0, 3)).toEqual(["accepted", "duplicate", "duplicate"])
      expect(ack.outcomes[3]).toMatchObject({ status: "rejected", field: "event" })
      expect(settled.stored.map((e) => e.id)).toEqual(["fresh"])
      expect(settled.refused.map(([i, reason]) => [i.event.id, reason])).toEqual([["poison", "index row too large"]])
      expect(settled.done).toEqual([ack])
      expect([...settled.counts].map(([[, outcome], n]) => [outcome, n]).sort()).toEqual([["accepted", 1], ["duplicate", 2], ["rejected", 1]])

      completeAcks(settled.done)
      expect(yield* Deferred.isDone(done)).toBe(true)
      expect(settledCalls).toBe(1)
    }))

  it.effect("a request split over two flushes completes only with the second", () =>
    Effect.gen(function*() {
      const ack: Ack = { remaining: 2, outcomes: ["accepted", "accepted"], done: yield* Deferred.make<void>() }
      const a = item("a", 0, ack)
      const b = item("b", 1, ack)
      expect(settleFlushed(flushed([a], [a], [])).done).toEqual([])
      expect(ack.remaining).toBe(1)
      expect(settleFlushed(flushed([b], [], [])).done).toEqual([ack])
      expect(ack.outcomes).toEqual(["accepted", "duplicate"])
    }))

  it.effect("outcome counts land in ingest_events_total, tagged by type and outcome", () =>
    Effect.gen(function*() {
      const counter = (outcome: string) =>
        Metric.value(Metric.taggedWithLabels(Metrics.eventsOutcome, [MetricLabel.make("type", "settle-test"), MetricLabel.make("outcome", outcome)]))
      const before = (yield* counter("accepted")).count
      countOutcomes(new Map([[["settle-test", "accepted"], 3], [["settle-test", "duplicate"], 2]]))
      countOutcomes(new Map([[["settle-test", "accepted"], 4]]))
      expect((yield* counter("accepted")).count - before).toBe(7)
      expect((yield* counter("duplicate")).count).toBeGreaterThanOrEqual(2)
    }))

  it("items without a waiting request are settled without an ack", () => {
    const a = item("a", 0)
    const settled = settleFlushed(flushed([a], [a], []))
    expect(settled.done).toEqual([])
    expect(settled.stored).toHaveLength(1)
  })
})
