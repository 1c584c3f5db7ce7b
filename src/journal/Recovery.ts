/**
 * Start-up recovery: scan every segment oldest first, keep every intact record, cut torn
 * tails from `.open` segments and seal them, report (never silently drop) what was damaged.
 *
 * A recovered `.open` segment is sealed (renamed `.seg`) rather than appended to, so the
 * writer always starts on a fresh file and recovery never has to trust an old write position.
 * Damage in a sealed segment is left on disk (it may be useful to an operator) and skipped;
 * its bytes go when the segment's intact records are committed.
 */
import { Effect } from "effect"
import * as path from "node:path"
import { type ScannedRecord, parseSegmentFileName, scanSegment, segmentFileName } from "./Format.js"
import { type FsError, type JournalFile, JournalFs } from "./JournalFs.js"
import type { DamageReport, RecoveryReport } from "./Service.js"

export interface RecoveredSegment {
  readonly segment: number
  readonly size: number
  readonly records: ReadonlyArray<ScannedRecord>
  /** Stands in for the append time of its records (the format stores none). */
  readonly modifiedAt: number
}

export interface Recovered {
  /** Sealed segments, oldest first (recovered `.open` ones included, now `.seg`). */
  readonly segments: ReadonlyArray<RecoveredSegment>
  readonly nextSegment: number
  readonly report: RecoveryReport
}

const readWhole = (file: JournalFile): Effect.Effect<Uint8Array, FsError> =>
  Effect.gen(function* () {
    const size = yield* file.size
    const data = new Uint8Array(size)
    let at = 0
    while (at < size) {
      const n = yield* file.read(data, at, size - at, at)
      if (n === 0) break
      at += n
    }
    return at === size ? data : data.subarray(0, at)
  })

export const recover = (directory: string): Effect.Effect<Recovered, FsError, JournalFs> =>
  Effect.gen(function* () {
    const fs = yield* JournalFs
    yield* fs.makeDirectory(directory)
    const found = (yield* fs.readDirectory(directory))
      .filter((entry) => entry.isFile)
      .flatMap((entry) => {
        const parsed = parseSegmentFileName(entry.name)
        return parsed ? [{ ...parsed, name: entry.name }] : []
      })
      .sort((a, b) => a.segment - b.segment || (a.state === "seg" ? -1 : 1))

    const segments: Array<RecoveredSegment> = []
    const truncated: Array<DamageReport> = []
    const corrupt: Array<DamageReport> = []
    let nextSegment = 1
    let directoryChanged = false
    const seen = new Set<number>()

    for (const { segment, state, name } of found) {
      nextSegment = Math.max(nextSegment, segment + 1)
      const file = path.join(directory, name)
      if (seen.has(segment)) {
        // Cannot come from our own renames (atomic); leave it for an operator rather than guess.
        yield* Effect.logError(`journal: ${name} duplicates segment ${segment}; left untouched, not replayed`)
        continue
      }
      seen.add(segment)
      const modifiedAt = yield* fs.modifiedAt(file)
      const handle = yield* fs.open(file, state === "open" ? "update" : "read")
      const scan = yield* readWhole(handle).pipe(
        Effect.map(scanSegment),
        Effect.tap((scan) =>
          state === "open" && scan.tail ? Effect.zipRight(handle.truncate(scan.goodEnd), handle.datasync) : Effect.void
        ),
        Effect.ensuring(Effect.ignore(handle.close))
      )
      for (const region of scan.damaged) corrupt.push({ segment, ...region })
      if (scan.tail) (state === "open" ? truncated : corrupt).push({ segment, ...scan.tail })
      // Bytes left on disk: a cut `.open` ends at its last intact record; a `.seg` keeps all.
      const size = state === "open" || !scan.tail ? scan.goodEnd : scan.tail.offset + scan.tail.bytes
      if (state === "open") {
        directoryChanged = true
        if (scan.records.length === 0) {
          yield* fs.remove(file)
          continue
        }
        yield* fs.rename(file, path.join(directory, segmentFileName(segment, "seg")))
      }
      segments.push({ segment, size, records: scan.records, modifiedAt })
    }
    if (directoryChanged) yield* fs.syncDirectory(directory)

    const records = segments.reduce((n, s) => n + s.records.length, 0)
    const bytes = segments.reduce((n, s) => n + s.size, 0)
    const report: RecoveryReport = { segments: segments.length, records, bytes, truncated, corrupt }
    const damage = [...truncated.map((d) => ({ ...d, action: "truncated" })), ...corrupt.map((d) => ({ ...d, action: "skipped" }))]
    if (damage.length > 0) {
      yield* Effect.logWarning(
        `journal recovery: ${records} intact records in ${segments.length} segments; ` +
          `${truncated.length} torn tail(s) cut, ${corrupt.length} damaged record(s) skipped`
      ).pipe(Effect.annotateLogs({ directory, damage: JSON.stringify(damage) }))
    } else if (segments.length > 0) {
      yield* Effect.logInfo(`journal recovery: ${records} intact records in ${segments.length} segments, no damage`).pipe(
        Effect.annotateLogs({ directory })
      )
    }
    return { segments, nextSegment, report }
  })
