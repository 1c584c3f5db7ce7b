/**
 * The disk journal (format: `Format.ts`; recovery: `Recovery.ts`; files: `Segments.ts`;
 * group commit: `Writer.ts`).
 *
 * `append` encodes its records in the caller's fiber and queues them for the single writer,
 * which answers it once its bytes are written and — with `fsync: "always"` — on disk, sharing
 * each sync with every append that queued meanwhile (the active segment is opened with O_DSYNC,
 * so the group's one write is also its sync). With `interval` a timer fsyncs
 * (a crash may lose up to one interval of acknowledged appends); with `never` only rolls and
 * shutdown fsync (a crash may lose whatever the OS had not written back).
 *
 * `takeSpilled` reads without the writer: it only reads acknowledged bytes, which never move
 * (a roll renames the file, and the reader retries under the other name).
 */
import { Chunk, Clock, Deferred, Duration, Effect, Fiber, Layer, Metric, Queue, Schedule } from "effect"
import { encodeRecords, MAX_PAYLOAD_BYTES } from "./Format.js"
import { JournalFs, JournalFsLive } from "./JournalFs.js"
import { makeLedger } from "./Ledger.js"
import * as Metrics from "./Metrics.js"
import { readBack } from "./ReadBack.js"
import { recover } from "./Recovery.js"
import { makeSegments, unavailable } from "./Segments.js"
import {
  type FsyncPolicy,
  Journal,
  JournalFull,
  type JournalService,
  JournalUnavailable,
  type RecordRef,
  type SpilledRecord
} from "./Service.js"
import { type AppendRequest, closedError, type Command, makeWriter, reject } from "./Writer.js"

const internalError = () =>
  new JournalUnavailable({ message: "journal writer failed unexpectedly; see the log", op: "append", code: undefined })

export interface JournalOptions {
  readonly directory: string
  /** Cap on the bytes of all segment files; default 1 GiB. */
  readonly maxBytes?: number
  /** The active segment is sealed once the next append would take it past this; default 64 MiB. */
  readonly segmentBytes?: number
  /** Default `always` (group commit). */
  readonly fsync?: FsyncPolicy
  /** For `fsync: "interval"`; default 100 ms. */
  readonly fsyncInterval?: Duration.DurationInput
  /** A fully committed active segment this old is sealed (and so deleted); default 10 s. */
  readonly rollCommittedAfter?: Duration.DurationInput
}

export const makeJournal = (options: JournalOptions) =>
  Effect.gen(function* () {
    const fs = yield* JournalFs
    const maxBytes = options.maxBytes ?? 1024 * 1024 * 1024
    const segmentBytes = options.segmentBytes ?? 64 * 1024 * 1024
    const policy = options.fsync ?? "always"
    const rollAfterMs = Duration.toMillis(options.rollCommittedAfter ?? "10 seconds")

    const recovered = yield* recover(options.directory).pipe(Effect.mapError(unavailable))
    const ledger = makeLedger()
    for (const s of recovered.segments) {
      ledger.addSegment(s.segment, true, s.size, s.modifiedAt)
      for (const r of s.records) ledger.addRecord(s.segment, r.offset, r.length, s.modifiedAt)
      ledger.pushSpill(s.records.map((r) => ({ segment: s.segment, offset: r.offset })))
    }
    const segments = yield* makeSegments(options.directory, ledger, recovered.nextSegment, policy === "always")
    const counts = { appended: 0, replayed: 0, corrupt: recovered.report.corrupt.length }
    yield* Metric.incrementBy(Metrics.corruptRecords, counts.corrupt)
    yield* Metric.incrementBy(Metrics.writeErrors, 0)
    yield* Metric.set(Metrics.maxBytes, maxBytes)
    const writer = makeWriter({
      segments,
      ledger,
      maxBytes,
      segmentBytes,
      policy,
      onAppended: (n) => (counts.appended += n)
    })

    const publishGauges = Effect.gen(function* () {
      yield* Metric.set(Metrics.bytes, ledger.totalBytes())
      yield* Metric.set(Metrics.segments, ledger.segmentCount())
      const oldest = ledger.oldestUncommittedAt()
      const now = yield* Clock.currentTimeMillis
      yield* Metric.set(Metrics.oldestUncommittedAge, oldest === undefined ? 0 : Math.max(0, now - oldest) / 1000)
    })

    // Segments recovered without a single intact record have nothing to replay.
    yield* segments.deleteCommitted
    yield* publishGauges

    const queue = yield* Queue.unbounded<Command>()
    let closed = false
    const writerFiber = yield* Queue.takeBetween(queue, 1, Number.MAX_SAFE_INTEGER).pipe(
      // A batch, once taken, is always finished: no append is left half-written by interruption.
      Effect.flatMap((chunk) => {
        const commands = Chunk.toReadonlyArray(chunk)
        return writer.handle(commands).pipe(
          Effect.zipLeft(publishGauges),
          // A bug must not kill the writer (every later append would hang): refuse this batch
          // (answered appends keep their answer) and carry on.
          Effect.catchAllCause((cause) =>
            Effect.logError("journal: writer failed; batch refused", cause).pipe(
              Effect.zipRight(Effect.forEach(commands, (c) => reject(c, internalError()), { discard: true })),
              Effect.as(commands.some((c) => c._tag === "Stop"))
            )
          ),
          Effect.uninterruptible
        )
      }),
      Effect.repeat({ until: (stopped) => stopped }),
      Effect.forkDaemon
    )

    /** Runs `task` on the writer, after everything queued before it. */
    const submit = (task: Effect.Effect<void>): Effect.Effect<void> =>
      Effect.flatMap(Deferred.make<void>(), (done) =>
        closed || !queue.unsafeOffer({ _tag: "Task", run: task, done }) ? Effect.void : Deferred.await(done))

    const rollIfIdle = Effect.gen(function* () {
      const active = segments.active()
      const now = yield* Clock.currentTimeMillis
      if (
        active && active.size > 0 && now - active.createdAt >= rollAfterMs &&
        ledger.segment(active.segment)?.pending.size === 0
      ) {
        yield* segments.roll.pipe(Effect.catchAll((e) => Effect.logWarning(`journal: idle roll failed: ${e.message}`)))
      }
      yield* segments.deleteCommitted
    })
    const housekeeping = yield* submit(rollIfIdle).pipe(
      Effect.schedule(Schedule.spaced(Duration.millis(Math.min(1000, Math.max(10, rollAfterMs))))),
      Effect.forkDaemon
    )
    const syncer = policy === "interval"
      ? yield* submit(
        segments.syncIfNeeded.pipe(Effect.catchAll((e) => Effect.logError(`journal: interval fsync failed: ${e.message}`)))
      ).pipe(Effect.schedule(Schedule.spaced(options.fsyncInterval ?? "100 millis")), Effect.forkDaemon)
      : undefined

    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        closed = true
        yield* Fiber.interrupt(housekeeping)
        if (syncer) yield* Fiber.interrupt(syncer)
        // Everything queued before `Stop` is still written; nothing can be queued after it.
        queue.unsafeOffer({ _tag: "Stop" })
        yield* Fiber.await(writerFiber)
        yield* Effect.forEach(yield* Queue.takeAll(queue), (c) => reject(c), { discard: true })
        yield* segments.close
        yield* Queue.shutdown(queue)
      })
    )

    const append: JournalService["append"] = (payloads, { spilled }) =>
      Effect.suspend(() => {
        if (payloads.length === 0) return Effect.succeed([])
        const { bytes, offsets } = encodeRecords(payloads)
        if (payloads.some((p) => p.length > MAX_PAYLOAD_BYTES) || bytes.length > maxBytes) {
          return Effect.fail(
            new JournalFull({
              message: `records of ${bytes.length} bytes can never fit a journal of ${maxBytes} bytes`,
              requestedBytes: bytes.length,
              usedBytes: ledger.totalBytes(),
              maxBytes
            })
          )
        }
        return Deferred.make<ReadonlyArray<RecordRef>, JournalFull | JournalUnavailable>().pipe(
          Effect.flatMap((done) => {
            const request: AppendRequest = {
              bytes,
              offsets,
              lengths: payloads.map((p) => p.length),
              spilled,
              done,
              abandoned: false,
              refs: undefined
            }
            // Checked and queued in one step: nothing is queued once closing has begun.
            if (closed || !queue.unsafeOffer({ _tag: "Append", request })) return Effect.fail(closedError())
            const started = performance.now()
            return Deferred.await(done).pipe(
              Effect.tap(() => Metrics.appendDuration.unsafeUpdate((performance.now() - started) / 1000, [])),
              Effect.onInterrupt(() =>
                Effect.sync(() => {
                  if (request.refs === undefined) request.abandoned = true
                  else if (!spilled) ledger.pushSpill(request.refs)
                })
              )
            )
          })
        )
      })

    const takeSpilled: JournalService["takeSpilled"] = (max) =>
      Effect.gen(function* () {
        const entries = ledger.takeSpill(Math.max(0, max))
        if (entries.length === 0) return []
        const results = yield* readBack(entries, (segment) => {
          const both = [segments.pathOf(segment, "seg"), segments.pathOf(segment, "open")]
          return ledger.segment(segment)?.sealed === false ? both.reverse() : both
        }).pipe(
          Effect.provideService(JournalFs, fs),
          Effect.mapError(unavailable),
          Effect.onError(() => Effect.sync(() => ledger.untake(entries)))
        )
        const out: Array<SpilledRecord> = []
        const lost: Array<RecordRef> = []
        for (const result of results) {
          const ref = { segment: result.entry.segment, offset: result.entry.offset }
          if (result._tag === "Read") out.push({ ref, payload: result.payload })
          else if (ledger.isPending(ref)) lost.push(ref)
        }
        if (lost.length > 0) {
          // Unreadable for good: report, count, and stop tracking them so their segment can go.
          counts.corrupt += lost.length
          yield* Metric.incrementBy(Metrics.corruptRecords, lost.length)
          yield* Effect.logError(`journal: ${lost.length} record(s) failed verification on read-back; skipped`).pipe(
            Effect.annotateLogs({ records: JSON.stringify(lost) })
          )
          yield* commit(lost)
        }
        counts.replayed += out.length
        yield* Metric.incrementBy(Metrics.replayed, out.length)
        return out
      })

    const commit: JournalService["commit"] = (refs) =>
      Effect.suspend(() => {
        let freed = false
        for (const ref of refs) {
          if (!ledger.commit(ref)) continue
          const entry = ledger.segment(ref.segment)
          if (entry?.sealed && entry.pending.size === 0) freed = true
        }
        return freed ? submit(segments.deleteCommitted) : Effect.void
      })

    const stats: JournalService["stats"] = Effect.gen(function* () {
      yield* publishGauges
      return {
        bytes: ledger.totalBytes(),
        segments: ledger.segmentCount(),
        spilledPending: ledger.spilledPending(),
        oldestUncommittedAt: ledger.oldestUncommittedAt(),
        appended: counts.appended,
        replayed: counts.replayed,
        corruptRecords: counts.corrupt
      }
    })

    return { append, takeSpilled, commit, stats, recovery: recovered.report } satisfies JournalService
  })

/** The journal on the given file operations (tests inject failures or count fsyncs here). */
export const JournalLiveWith = (options: JournalOptions): Layer.Layer<Journal, JournalUnavailable, JournalFs> =>
  Layer.scoped(Journal, makeJournal(options))

export const JournalLive = (options: JournalOptions): Layer.Layer<Journal, JournalUnavailable> =>
  JournalLiveWith(options).pipe(Layer.provide(JournalFsLive))
