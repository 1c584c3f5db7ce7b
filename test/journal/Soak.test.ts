/**
 * Everything at once on small segments: concurrent appenders (spilled and not), a drainer
 * taking and committing spilled records, a committer for the rest, random injected ENOSPC —
 * then close and reopen. Invariants: nothing refused is ever recovered, nothing acknowledged
 * and uncommitted is lost, and committed segments do not pile up.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Random } from "effect"
import { HEADER_BYTES } from "../../src/journal/Format.js"
import type { RecordRef } from "../../src/journal/Service.js"
import { listDir, makeFaults, numberOf, openJournal, payload, tempDir } from "./support.js"

describe("Journal (disk) soak", () => {
  it.scopedLive("concurrent appends, drains, commits and disk errors keep every acknowledged record", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const faults = makeFaults()
      const options = { directory: dir, segmentBytes: 8 * 1024, maxBytes: 512 * 1024 }
      const { journal, close } = yield* openJournal(options, faults)
      const acked = new Set<number>()
      const committed = new Set<number>()
      const refusedIds = new Set<number>()
      const unspilled: Array<{ n: number; ref: RecordRef }> = []
      let next = 0

      const appender = Effect.gen(function* () {
        for (let i = 0; i < 60; i++) {
          const count = yield* Random.nextIntBetween(1, 4)
          const ids = Array.from({ length: count }, () => next++)
          const spilled = yield* Random.nextBoolean
          const result = yield* Effect.either(journal.append(ids.map((n) => payload(n, 300)), { spilled }))
          if (result._tag === "Left") {
            ids.forEach((n) => refusedIds.add(n))
            continue
          }
          ids.forEach((n) => acked.add(n))
          if (!spilled) result.right.forEach((ref, j) => unspilled.push({ n: ids[j]!, ref }))
        }
      })
      const drainer = Effect.gen(function* () {
        while (true) {
          const batch = yield* journal.takeSpilled(7).pipe(Effect.orElseSucceed(() => []))
          if (batch.length === 0) yield* Effect.sleep("2 millis")
          // Noted before committing: an interruption in between must not look like a loss.
          batch.forEach((r) => committed.add(numberOf(r.payload)))
          yield* journal.commit(batch.map((r) => r.ref))
        }
      })
      const committer = Effect.gen(function* () {
        while (true) {
          yield* Effect.sleep("3 millis")
          const take = unspilled.splice(0, yield* Random.nextIntBetween(0, 10))
          take.forEach((t) => committed.add(t.n))
          yield* journal.commit(take.map((t) => t.ref))
        }
      })
      const chaos = Effect.gen(function* () {
        while (true) {
          yield* Effect.sleep("4 millis")
          faults.write = (yield* Random.nextIntBetween(0, 10)) === 0
            ? { code: "ENOSPC", partialBytes: yield* Random.nextIntBetween(0, 400) }
            : undefined
        }
      })

      const background = yield* Effect.all([Effect.fork(drainer), Effect.fork(committer), Effect.fork(chaos)])
      yield* Effect.all(Array.from({ length: 8 }, () => appender), { concurrency: "unbounded", discard: true })
      yield* Effect.forEach(background, Fiber.interrupt, { discard: true })
      faults.write = undefined
      expect(refusedIds.size).toBeGreaterThan(0)
      expect(acked.size).toBeGreaterThan(0)
      const stats = yield* journal.stats
      expect(stats.appended).toBe(acked.size)
      yield* close

      const reopened = yield* openJournal(options)
      expect(reopened.journal.recovery.corrupt).toEqual([])
      const replayed = (yield* reopened.journal.takeSpilled(100_000)).map((r) => numberOf(r.payload))
      expect(new Set(replayed).size).toBe(replayed.length)
      for (const n of replayed) expect(refusedIds.has(n)).toBe(false)
      for (const n of acked) if (!committed.has(n)) expect(replayed).toContain(n)
      // Only segments still holding uncommitted records (plus the last active one) remain.
      const onDisk = (yield* listDir(dir)).length
      expect(onDisk).toBeLessThanOrEqual(Math.ceil(((acked.size - committed.size) * (HEADER_BYTES + 300)) / 1024) + 2)
      yield* reopened.close
    }))
})
