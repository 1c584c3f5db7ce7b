/**
 * The segment files: the one active `.open` file being appended to, rolling it into a sealed
 * `.seg`, and deleting sealed segments once committed. Every function here must run under the
 * journal's single I/O lock; none of them is safe to interleave with another.
 *
 * Failure rule: a failed write or fsync leaves `dirty` set, and the bytes past the last good
 * offset are truncated before anything else is written — so a refused append never leaves
 * garbage between acknowledged records, and the next append simply retries.
 */
import { Clock, Effect, Metric } from "effect"
import * as path from "node:path"
import { segmentFileName, type SegmentState } from "./Format.js"
import { FsError, type JournalFile, JournalFs } from "./JournalFs.js"
import type { Ledger } from "./Ledger.js"
import * as Metrics from "./Metrics.js"
import { JournalUnavailable } from "./Service.js"

export const unavailable = (error: FsError): JournalUnavailable =>
  new JournalUnavailable({
    message: `journal ${error.op} failed${error.code ? ` (${error.code})` : ""}: ${error.message}`,
    op: error.op,
    code: error.code
  })

interface Active {
  readonly segment: number
  readonly file: JournalFile
  readonly createdAt: number
  /** End of the last acknowledged record; the file may be longer only while `dirty`. */
  goodOffset: number
  dirty: boolean
  /** The directory entry of the new file has not been fsynced yet. */
  unnamed: boolean
  /** Written but not fsynced (fsync policies `interval` and `never`). */
  unsynced: boolean
}

/**
 * `durableWrites` (fsync policy `always`): the active segment is opened with O_DSYNC, so an
 * append is one write that returns once durable — one trip to the I/O thread pool and back
 * instead of two (write, then fdatasync), which under load halved the append's median.
 */
export const makeSegments = (directory: string, ledger: Ledger, firstSegment: number, durableWrites = false) =>
  Effect.gen(function* () {
    const fs = yield* JournalFs
    let active: Active | undefined
    let nextSegment = firstSegment

    const pathOf = (segment: number, state: SegmentState) => path.join(directory, segmentFileName(segment, state))

    const openActive: Effect.Effect<Active, FsError> = Effect.suspend(() => {
      if (active) return Effect.succeed(active)
      const segment = nextSegment++
      return Effect.all([fs.open(pathOf(segment, "open"), "create", { durableWrites }), Clock.currentTimeMillis]).pipe(
        Effect.map(([file, now]) => {
          active = { segment, file, createdAt: now, goodOffset: 0, dirty: false, unnamed: true, unsynced: false }
          ledger.addSegment(segment, false, 0, now)
          return active
        })
      )
    })

    const cleanUp = (a: Active): Effect.Effect<void, FsError> =>
      Effect.gen(function* () {
        if (a.dirty) {
          yield* a.file.truncate(a.goodOffset)
          a.dirty = false
        }
        if (a.unnamed) {
          yield* fs.syncDirectory(directory)
          a.unnamed = false
        }
      })

    /** Counts one sync (an fdatasync, or a durable write) and how long it took. */
    const synced = (a: Active, started: number) => {
      a.unsynced = false
      Metrics.fsyncDuration.unsafeUpdate((performance.now() - started) / 1000, [])
      return Metric.increment(Metrics.fsyncs)
    }

    const datasync = (a: Active) =>
      Effect.suspend(() => {
        const started = performance.now()
        return a.file.datasync.pipe(Effect.tap(() => synced(a, started)))
      })

    /**
     * Appends `bytes` at the end of the active segment (opening one if needed); fsyncs when
     * `sync`. Returns where they landed. On failure nothing counts as written.
     */
    const write = (bytes: Uint8Array, sync: boolean) =>
      Effect.gen(function* () {
        const a = yield* openActive
        yield* cleanUp(a)
        const base = a.goodOffset
        a.dirty = true
        const started = performance.now()
        let done = 0
        while (done < bytes.length) {
          const n = yield* a.file.write(bytes, done, bytes.length - done, base + done)
          if (n <= 0) {
            return yield* new FsError({ op: "write", path: pathOf(a.segment, "open"), code: undefined, message: "wrote 0 bytes" })
          }
          done += n
        }
        if (!sync) a.unsynced = true
        else if (a.file.durableWrites) yield* synced(a, started)
        else yield* datasync(a)
        a.dirty = false
        a.goodOffset += bytes.length
        ledger.grow(a.segment, bytes.length)
        return { segment: a.segment, base }
      }).pipe(
        Effect.tapError((error) =>
          Effect.gen(function* () {
            yield* Metric.increment(Metrics.writeErrors)
            yield* Effect.logWarning(`journal append refused: ${error.op} ${error.code ?? ""} ${error.message}`)
            // Cut the partial write now if we can; otherwise `dirty` makes the next write do it.
            const a = active
            if (a?.dirty) {
              yield* a.file.truncate(a.goodOffset).pipe(
                Effect.tap(() => Effect.sync(() => (a.dirty = false))),
                Effect.ignore
              )
            }
          })
        ),
        Effect.mapError(unavailable)
      )

    /** fsync for the `interval` policy: only when something was written since the last one. */
    const syncIfNeeded = Effect.suspend(() => (active?.unsynced ? datasync(active) : Effect.void)).pipe(
      Effect.mapError(unavailable)
    )

    const deleteCommitted = Effect.gen(function* () {
      let removed = 0
      for (const entry of ledger.deletable()) {
        const result = yield* Effect.either(fs.remove(pathOf(entry.segment, "seg")))
        if (result._tag === "Right" || result.left.code === "ENOENT") {
          ledger.removeSegment(entry.segment)
          removed++
        } else {
          yield* Effect.logWarning(`journal: could not delete committed segment ${entry.segment}: ${result.left.message}`)
        }
      }
      // A lost unlink only means a replay of committed (deduplicated) records after a crash.
      if (removed > 0) yield* Effect.ignore(fs.syncDirectory(directory))
    })

    /** Seals the active segment: fsync, rename `.open` → `.seg`, fsync the directory. */
    const roll = Effect.gen(function* () {
      const a = active
      if (!a) return
      yield* cleanUp(a)
      yield* datasync(a)
      yield* fs.rename(pathOf(a.segment, "open"), pathOf(a.segment, "seg"))
      active = undefined
      ledger.seal(a.segment)
      yield* Effect.ignore(a.file.close)
      yield* fs.syncDirectory(directory).pipe(
        Effect.catchAll((e) => Effect.logWarning(`journal: directory fsync after roll failed: ${e.message}`))
      )
      yield* deleteCommitted
    }).pipe(Effect.mapError(unavailable))

    /** Closing: make what was written durable; the `.open` file stays for the next start. */
    const close = Effect.suspend(() => {
      const a = active
      if (!a) return Effect.void
      active = undefined
      return cleanUp(a).pipe(
        Effect.zipRight(datasync(a)),
        Effect.catchAll((e) => Effect.logError(`journal: final fsync failed: ${e.message}`)),
        Effect.ensuring(Effect.ignore(a.file.close))
      )
    })

    return {
      write,
      roll,
      syncIfNeeded,
      deleteCommitted,
      close,
      pathOf,
      /** The active segment's number, size and creation time, if one is open. */
      active: () => (active ? { segment: active.segment, size: active.goodOffset, createdAt: active.createdAt } : undefined)
    }
  })

export type Segments = Effect.Effect.Success<ReturnType<typeof makeSegments>>
