import { describe, expect, it } from "@effect/vitest"
import { Effect, Metric } from "effect"
import * as fsp from "node:fs/promises"
import * as path from "node:path"
import { HEADER_BYTES } from "../../src/journal/Format.js"
import * as Metrics from "../../src/journal/Metrics.js"
import type { RecordRef } from "../../src/journal/Service.js"
import { fileSize, listDir, numberOf, openJournal, payload, tempDir } from "./support.js"

const RECORD = HEADER_BYTES + 1000
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i)

describe("Journal (disk)", () => {
  it.scopedLive("appends and reads spilled records back in order; unspilled ones are not queued", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const { journal, close } = yield* openJournal({ directory: dir })
      const a = yield* journal.append([payload(1), payload(2)], { spilled: true })
      const b = yield* journal.append([payload(3)], { spilled: false })
      const c = yield* journal.append([payload(4)], { spilled: true })
      expect(a).toEqual([{ segment: 1, offset: 0 }, { segment: 1, offset: RECORD }])
      expect(b).toEqual([{ segment: 1, offset: 2 * RECORD }])
      expect(c).toEqual([{ segment: 1, offset: 3 * RECORD }])
      expect((yield* journal.stats).spilledPending).toBe(3)

      const first = yield* journal.takeSpilled(2)
      expect(first.map((r) => numberOf(r.payload))).toEqual([1, 2])
      expect(first.map((r) => r.ref)).toEqual(a)
      expect(first[0]!.payload).toEqual(payload(1))
      const rest = yield* journal.takeSpilled(10)
      expect(rest.map((r) => numberOf(r.payload))).toEqual([4])
      expect(yield* journal.takeSpilled(10)).toEqual([])

      const stats = yield* journal.stats
      expect(stats).toMatchObject({ bytes: 4 * RECORD, segments: 1, spilledPending: 0, appended: 4, replayed: 3 })
      expect(stats.oldestUncommittedAt).toBeTypeOf("number")
      expect(yield* listDir(dir)).toEqual(["0000000000000001.open"])
      yield* close
    }))

  it.scopedLive("group commit: concurrent appends share fsyncs, and each returns only once durable", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const { journal, faults, close } = yield* openJournal({ directory: dir })
      const n = 200
      const refs = yield* Effect.forEach(range(0, n), (i) => journal.append([payload(i)], { spilled: false }), {
        concurrency: "unbounded"
      })
      expect(new Set(refs.map(([r]) => r!.offset)).size).toBe(n)
      expect(faults.datasyncs).toBeGreaterThan(0)
      expect(faults.datasyncs).toBeLessThan(n / 2)
      expect(faults.writes).toBe(faults.datasyncs)
      expect(yield* fileSize(path.join(dir, "0000000000000001.open"))).toBe(n * RECORD)
      yield* close
    }))

  it.scopedLive("rolls over at the segment size: fsync, rename .open to .seg, next number", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const { journal, close } = yield* openJournal({ directory: dir, segmentBytes: 4 * RECORD })
      for (const i of range(0, 10)) yield* journal.append([payload(i)], { spilled: true })
      expect(yield* listDir(dir)).toEqual(["0000000000000001.seg", "0000000000000002.seg", "0000000000000003.open"])
      expect(yield* fileSize(path.join(dir, "0000000000000001.seg"))).toBe(4 * RECORD)
      expect((yield* journal.stats).segments).toBe(3)
      const all = yield* journal.takeSpilled(100)
      expect(all.map((r) => numberOf(r.payload))).toEqual(range(0, 10))
      expect(all.map((r) => r.ref.segment)).toEqual([1, 1, 1, 1, 2, 2, 2, 2, 3, 3])
      yield* close
    }))

  it.scopedLive("reopening after close recovers every record as pending replay, oldest first", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const first = yield* openJournal({ directory: dir, segmentBytes: 8 * RECORD })
      for (const i of range(0, 20)) yield* first.journal.append([payload(i)], { spilled: i % 2 === 0 })
      yield* first.close

      const second = yield* openJournal({ directory: dir, segmentBytes: 8 * RECORD })
      expect(second.journal.recovery).toMatchObject({ segments: 3, records: 20, truncated: [], corrupt: [] })
      // The recovered .open is sealed; a new segment starts with the next append.
      expect(yield* listDir(dir)).toEqual(["0000000000000001.seg", "0000000000000002.seg", "0000000000000003.seg"])
      const ref = yield* second.journal.append([payload(100)], { spilled: true })
      expect(ref).toEqual([{ segment: 4, offset: 0 }])
      const replay = yield* second.journal.takeSpilled(1000)
      expect(replay.map((r) => numberOf(r.payload))).toEqual([...range(0, 20), 100])
      expect((yield* second.journal.stats).replayed).toBe(21)
      yield* second.close
    }))

  it.scopedLive("a torn tail is cut, intact records are kept, and appends continue", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const first = yield* openJournal({ directory: dir })
      for (const i of range(0, 10)) yield* first.journal.append([payload(i)], { spilled: false })
      yield* first.close
      const open = path.join(dir, "0000000000000001.open")
      yield* Effect.promise(() => fsp.truncate(open, 9 * RECORD + 300))

      const second = yield* openJournal({ directory: dir })
      expect(second.journal.recovery.records).toBe(9)
      expect(second.journal.recovery.truncated).toEqual([{ segment: 1, offset: 9 * RECORD, bytes: 300, reason: "length" }])
      expect(second.journal.recovery.corrupt).toEqual([])
      expect(yield* fileSize(path.join(dir, "0000000000000001.seg"))).toBe(9 * RECORD)
      yield* second.journal.append([payload(50)], { spilled: false })
      yield* second.close

      const third = yield* openJournal({ directory: dir })
      const replay = yield* third.journal.takeSpilled(100)
      expect(replay.map((r) => numberOf(r.payload))).toEqual([...range(0, 9), 50])
      expect(third.journal.recovery.truncated).toEqual([])
      yield* third.close
    }))

  it.scopedLive("a flipped byte in a sealed segment: that record is reported and skipped, all others kept", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const first = yield* openJournal({ directory: dir, segmentBytes: 5 * RECORD })
      for (const i of range(0, 12)) yield* first.journal.append([payload(i)], { spilled: false })
      yield* first.close
      const sealed = path.join(dir, "0000000000000002.seg")
      const data = yield* Effect.promise(() => fsp.readFile(sealed))
      data[2 * RECORD + HEADER_BYTES + 500]! ^= 0x20
      yield* Effect.promise(() => fsp.writeFile(sealed, data))

      const second = yield* openJournal({ directory: dir, segmentBytes: 5 * RECORD })
      expect(second.journal.recovery.corrupt).toEqual([{ segment: 2, offset: 2 * RECORD, bytes: RECORD, reason: "checksum" }])
      expect(second.journal.recovery.records).toBe(11)
      expect((yield* second.journal.stats).corruptRecords).toBe(1)
      const replay = yield* second.journal.takeSpilled(100)
      expect(replay.map((r) => numberOf(r.payload))).toEqual(range(0, 12).filter((n) => n !== 7))
      yield* second.close
    }))

  it.scopedLive("a corrupted length field: recovery resynchronises on the next record", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const first = yield* openJournal({ directory: dir, segmentBytes: 5 * RECORD })
      for (const i of range(0, 10)) yield* first.journal.append([payload(i)], { spilled: false })
      yield* first.close
      const sealed = path.join(dir, "0000000000000001.seg")
      const data = yield* Effect.promise(() => fsp.readFile(sealed))
      data.writeUInt32BE(0x00ffffff, 1 * RECORD + 4)
      yield* Effect.promise(() => fsp.writeFile(sealed, data))

      const second = yield* openJournal({ directory: dir })
      expect(second.journal.recovery.corrupt).toEqual([{ segment: 1, offset: RECORD, bytes: RECORD, reason: "length" }])
      const replay = yield* second.journal.takeSpilled(100)
      expect(replay.map((r) => numberOf(r.payload))).toEqual(range(0, 10).filter((n) => n !== 1))
      yield* second.close
    }))

  it.scopedLive("commit deletes fully committed sealed segments and keeps partly committed ones", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const { journal, close } = yield* openJournal({ directory: dir, segmentBytes: 4 * RECORD })
      const refs: Array<RecordRef> = []
      for (const i of range(0, 10)) refs.push(...(yield* journal.append([payload(i)], { spilled: false })))
      expect((yield* journal.stats).bytes).toBe(10 * RECORD)

      yield* journal.commit([...refs.slice(0, 4), ...refs.slice(4, 6)])
      expect(yield* listDir(dir)).toEqual(["0000000000000002.seg", "0000000000000003.open"])
      expect((yield* journal.stats).bytes).toBe(6 * RECORD)
      // Committing twice, or refs of deleted segments, is harmless.
      yield* journal.commit(refs.slice(0, 6))
      const stats = yield* journal.stats
      expect(stats.segments).toBe(2)

      yield* journal.commit(refs.slice(6, 10))
      expect(yield* listDir(dir)).toEqual(["0000000000000003.open"])
      expect((yield* journal.stats).oldestUncommittedAt).toBeUndefined()
      yield* close
    }))

  it.scopedLive("a fully committed active segment is rolled and deleted once old enough", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const { journal, close } = yield* openJournal({ directory: dir, rollCommittedAfter: "50 millis" })
      const refs = yield* journal.append([payload(1), payload(2)], { spilled: false })
      yield* journal.commit(refs)
      yield* Effect.sleep("300 millis")
      expect(yield* listDir(dir)).toEqual([])
      expect((yield* journal.stats).bytes).toBe(0)
      yield* close
    }))

  it.scopedLive("capacity: JournalFull without writing; committing frees space and appends resume", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const { journal, close } = yield* openJournal({ directory: dir, maxBytes: 10 * RECORD })
      const refs: Array<RecordRef> = []
      for (const i of range(0, 10)) refs.push(...(yield* journal.append([payload(i)], { spilled: false })))
      const full = yield* journal.append([payload(10)], { spilled: false }).pipe(Effect.flip)
      expect(full._tag).toBe("JournalFull")
      expect(full).toMatchObject({ requestedBytes: RECORD, usedBytes: 10 * RECORD, maxBytes: 10 * RECORD })
      expect(yield* fileSize(path.join(dir, "0000000000000001.open"))).toBe(10 * RECORD)
      const tooBig = yield* journal.append(range(0, 11).map((i) => payload(i)), { spilled: false }).pipe(Effect.flip)
      expect(tooBig._tag).toBe("JournalFull")

      // Partly committed: still full (the active segment cannot shrink).
      yield* journal.commit(refs.slice(0, 5))
      expect((yield* journal.append([payload(10)], { spilled: false }).pipe(Effect.flip))._tag).toBe("JournalFull")
      // All committed: the next append seals the active segment, deletes it, and fits.
      yield* journal.commit(refs)
      const again = yield* journal.append([payload(11)], { spilled: true })
      expect(again).toEqual([{ segment: 2, offset: 0 }])
      expect(yield* listDir(dir)).toEqual(["0000000000000002.open"])
      expect((yield* journal.takeSpilled(10)).map((r) => numberOf(r.payload))).toEqual([11])
      yield* close
    }))
})

describe("Journal (disk) read-back", () => {
  it.scopedLive("a record damaged on disk after it was written is reported at takeSpilled and skipped", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const { journal, close } = yield* openJournal({ directory: dir, segmentBytes: 3 * RECORD })
      for (const i of range(0, 5)) yield* journal.append([payload(i)], { spilled: true })
      const sealed = path.join(dir, "0000000000000001.seg")
      const handle = yield* Effect.promise(() => fsp.open(sealed, "r+"))
      yield* Effect.promise(() => handle.write(Uint8Array.of(0x58), 0, 1, RECORD + HEADER_BYTES + 10))
      yield* Effect.promise(() => handle.close())

      const replay = yield* journal.takeSpilled(10)
      expect(replay.map((r) => numberOf(r.payload))).toEqual([0, 2, 3, 4])
      expect((yield* journal.stats).corruptRecords).toBe(1)
      // The damaged record no longer holds its segment back.
      yield* journal.commit(replay.map((r) => r.ref))
      expect(yield* listDir(dir)).toEqual(["0000000000000002.open"])
      yield* close
    }))

  it.scopedLive("stats report the oldest uncommitted record and publish the gauges", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const { journal, close } = yield* openJournal({ directory: dir })
      const before = Date.now()
      const [first] = yield* journal.append([payload(1)], { spilled: false })
      yield* Effect.sleep("20 millis")
      const [second] = yield* journal.append([payload(2)], { spilled: false })
      const oldest = (yield* journal.stats).oldestUncommittedAt!
      expect(oldest).toBeGreaterThanOrEqual(before)
      yield* journal.commit([first!])
      expect((yield* journal.stats).oldestUncommittedAt!).toBeGreaterThan(oldest)
      yield* journal.commit([second!])
      expect((yield* journal.stats).oldestUncommittedAt).toBeUndefined()
      expect((yield* Metric.value(Metrics.bytes)).value).toBeGreaterThanOrEqual(0)
      yield* close
    }))
})
