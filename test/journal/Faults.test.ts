import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"
import * as path from "node:path"
import { HEADER_BYTES } from "../../src/journal/Format.js"
import { fileSize, listDir, makeFaults, numberOf, openJournal, payload, tempDir } from "./support.js"

const RECORD = HEADER_BYTES + 1000
const OPEN_1 = "0000000000000001.open"
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i)

describe("Journal (disk) under failures", () => {
  it.scopedLive("ENOSPC mid-write: JournalUnavailable, the partial bytes are cut, the next append succeeds", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const { journal, faults, close } = yield* openJournal({ directory: dir })
      yield* journal.append([payload(1), payload(2)], { spilled: false })

      faults.write = { code: "ENOSPC", partialBytes: 700 }
      const error = yield* journal.append([payload(3)], { spilled: true }).pipe(Effect.flip)
      expect(error).toMatchObject({ _tag: "JournalUnavailable", code: "ENOSPC", op: "write" })
      expect(yield* fileSize(path.join(dir, OPEN_1))).toBe(2 * RECORD)
      // Still out of space: every concurrent append is refused, nothing crashes.
      const refused = yield* Effect.forEach(range(10, 20), (i) => journal.append([payload(i)], { spilled: true }).pipe(Effect.flip), {
        concurrency: "unbounded"
      })
      expect(refused.every((e) => e._tag === "JournalUnavailable")).toBe(true)
      expect((yield* journal.stats)).toMatchObject({ appended: 2, spilledPending: 0, bytes: 2 * RECORD })

      faults.write = undefined // space returns
      expect(yield* journal.append([payload(4)], { spilled: true })).toEqual([{ segment: 1, offset: 2 * RECORD }])
      yield* close

      const reopened = yield* openJournal({ directory: dir })
      expect(reopened.journal.recovery).toMatchObject({ records: 3, truncated: [], corrupt: [] })
      expect((yield* reopened.journal.takeSpilled(10)).map((r) => numberOf(r.payload))).toEqual([1, 2, 4])
      yield* reopened.close
    }))

  it.scopedLive("when the cut itself fails, the next append cuts first; a crash instead leaves a tail recovery removes", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const { journal, faults, close } = yield* openJournal({ directory: dir })
      yield* journal.append([payload(1)], { spilled: false })
      faults.write = { code: "EIO", partialBytes: 500 }
      faults.truncate = "EIO"
      expect(yield* journal.append([payload(2)], { spilled: false }).pipe(Effect.flip)).toMatchObject({ code: "EIO" })
      expect(yield* fileSize(path.join(dir, OPEN_1))).toBe(RECORD + 500)

      // A "crash" now: a second instance finds the garbage as a torn tail and cuts it.
      const other = yield* openJournal({ directory: path.join(dir) }).pipe(Effect.either)
      expect(other._tag).toBe("Right")
      if (other._tag === "Right") {
        expect(other.right.journal.recovery).toMatchObject({ records: 1, corrupt: [] })
        expect(other.right.journal.recovery.truncated).toEqual([{ segment: 1, offset: RECORD, bytes: 500, reason: "length" }])
        yield* other.right.close
      }
      yield* close
    }))

  it.scopedLive("a failed cut is retried before the next write, so no garbage sits between records", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const { journal, faults, close } = yield* openJournal({ directory: dir })
      yield* journal.append([payload(1)], { spilled: false })
      faults.write = { code: "EIO", partialBytes: 500 }
      faults.truncate = "EIO"
      yield* journal.append([payload(2)], { spilled: false }).pipe(Effect.flip)
      faults.write = undefined
      // The cut still fails: the append is refused rather than written after the garbage.
      expect(yield* journal.append([payload(3)], { spilled: false }).pipe(Effect.flip)).toMatchObject({ op: "ftruncate" })
      faults.truncate = undefined
      expect(yield* journal.append([payload(4)], { spilled: false })).toEqual([{ segment: 1, offset: RECORD }])
      expect(yield* fileSize(path.join(dir, OPEN_1))).toBe(2 * RECORD)
      yield* close
      const reopened = yield* openJournal({ directory: dir })
      expect(reopened.journal.recovery).toMatchObject({ records: 2, truncated: [], corrupt: [] })
      yield* reopened.close
    }))

  it.scopedLive("fsync failure (EIO): the batch is refused and cut, later appends work", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const { journal, faults, close } = yield* openJournal({ directory: dir })
      yield* journal.append([payload(1)], { spilled: true })
      faults.datasync = "EIO"
      expect(yield* journal.append([payload(2)], { spilled: true }).pipe(Effect.flip)).toMatchObject({
        _tag: "JournalUnavailable",
        code: "EIO",
        op: "fdatasync"
      })
      expect(yield* fileSize(path.join(dir, OPEN_1))).toBe(RECORD)
      faults.datasync = undefined
      yield* journal.append([payload(3)], { spilled: true })
      expect((yield* journal.takeSpilled(10)).map((r) => numberOf(r.payload))).toEqual([1, 3])
      yield* close
    }))

  it.scopedLive("cannot create the next segment: the append is refused, the roll is retried later", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const { journal, faults, close } = yield* openJournal({ directory: dir, segmentBytes: 2 * RECORD })
      yield* journal.append([payload(1), payload(2)], { spilled: true })
      faults.open = "ENOSPC"
      expect(yield* journal.append([payload(3)], { spilled: true }).pipe(Effect.flip)).toMatchObject({ code: "ENOSPC" })
      faults.open = undefined
      const ref = yield* journal.append([payload(4)], { spilled: true })
      expect(ref[0]!.segment).toBeGreaterThan(1)
      expect((yield* journal.takeSpilled(10)).map((r) => numberOf(r.payload))).toEqual([1, 2, 4])
      expect((yield* listDir(dir)).filter((name) => name.endsWith(".open"))).toHaveLength(1)
      yield* close
    }))

  it.scopedLive("crash: without close, a new instance recovers every acknowledged record", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const crashed = yield* openJournal({ directory: dir, segmentBytes: 16 * RECORD })
      yield* Effect.forEach(range(0, 40), (i) => crashed.journal.append([payload(i)], { spilled: false }), {
        concurrency: 8
      })
      // No close: the first instance just stops being used (its finalizer runs only at test end).
      const next = yield* openJournal({ directory: dir, segmentBytes: 16 * RECORD })
      expect(next.journal.recovery).toMatchObject({ records: 40, truncated: [], corrupt: [] })
      const replay = yield* next.journal.takeSpilled(100)
      expect(replay.map((r) => numberOf(r.payload)).sort((a, b) => a - b)).toEqual(range(0, 40))
      yield* next.close
      yield* crashed.close
    }))

  it.scopedLive("an append interrupted while its write is in flight is replayed, not lost or leaked", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const { journal, faults, close } = yield* openJournal({ directory: dir })
      const reached = yield* Deferred.make<void>()
      const gate = yield* Deferred.make<void>()
      faults.beforeDatasync = Deferred.succeed(reached, undefined).pipe(Effect.zipRight(Deferred.await(gate)))
      const fiber = yield* Effect.fork(journal.append([payload(1)], { spilled: false }))
      yield* Deferred.await(reached)
      yield* Fiber.interrupt(fiber)
      faults.beforeDatasync = Effect.void
      yield* Deferred.succeed(gate, undefined)
      yield* journal.append([payload(2)], { spilled: false })
      const replay = yield* journal.takeSpilled(10)
      expect(replay.map((r) => numberOf(r.payload))).toEqual([1])
      yield* journal.commit(replay.map((r) => r.ref))
      expect((yield* journal.stats).spilledPending).toBe(0)
      yield* close
    }))

  it.scopedLive("after close, appends are refused with JournalUnavailable and the data stays", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const { journal, close } = yield* openJournal({ directory: dir })
      yield* journal.append([payload(1)], { spilled: false })
      yield* close
      expect(yield* journal.append([payload(2)], { spilled: false }).pipe(Effect.flip)).toMatchObject({
        _tag: "JournalUnavailable",
        message: "journal is closed"
      })
      expect(yield* listDir(dir)).toEqual([OPEN_1])
    }))

  it.scopedLive("fsync policies: interval syncs on a timer, never only at roll and close", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const interval = yield* openJournal({ directory: path.join(dir), fsync: "interval", fsyncInterval: "20 millis" })
      for (const i of range(0, 20)) yield* interval.journal.append([payload(i)], { spilled: false })
      expect(interval.faults.datasyncs).toBeLessThan(20)
      yield* Effect.sleep("100 millis")
      expect(interval.faults.datasyncs).toBeGreaterThan(0)
      yield* interval.close

      const faults = makeFaults()
      const never = yield* openJournal({ directory: dir, fsync: "never" }, faults)
      for (const i of range(0, 20)) yield* never.journal.append([payload(i)], { spilled: false })
      expect(faults.datasyncs).toBe(0)
      yield* never.close
      expect(faults.datasyncs).toBe(1)
    }))
})
