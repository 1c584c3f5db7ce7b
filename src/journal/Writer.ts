/**
 * The single writer: the only fiber that touches segment files for writing. It takes every
 * queued command at once — appends, and housekeeping tasks (idle roll, interval fsync, segment
 * deletion) — so appends that arrived during the previous fsync are written together with one
 * durable write (group commit; `Segments.ts`), and housekeeping waits its turn in FIFO order
 * instead of contending for a lock (an unfair lock starved the interval fsync under load).
 */
import { Clock, Deferred, Effect, Metric } from "effect"
import type { Ledger } from "./Ledger.js"
import * as Metrics from "./Metrics.js"
import type { Segments } from "./Segments.js"
import { type FsyncPolicy, JournalFull, JournalUnavailable, type RecordRef } from "./Service.js"

export interface AppendRequest {
  readonly bytes: Uint8Array
  readonly offsets: ReadonlyArray<number>
  readonly lengths: ReadonlyArray<number>
  readonly spilled: boolean
  readonly done: Deferred.Deferred<ReadonlyArray<RecordRef>, JournalFull | JournalUnavailable>
  /** The caller was interrupted before its answer: skip it, or spill it if already written. */
  abandoned: boolean
  refs: ReadonlyArray<RecordRef> | undefined
}

export type Command =
  | { readonly _tag: "Append"; readonly request: AppendRequest }
  | { readonly _tag: "Task"; readonly run: Effect.Effect<void>; readonly done: Deferred.Deferred<void> }
  | { readonly _tag: "Stop" }

export interface WriterConfig {
  readonly segments: Segments
  readonly ledger: Ledger
  readonly maxBytes: number
  readonly segmentBytes: number
  readonly policy: FsyncPolicy
  readonly onAppended: (records: number) => void
}

export const closedError = () => new JournalUnavailable({ message: "journal is closed", op: "append", code: undefined })

/** Answers a command that will never run: appends fail (closed), tasks are released. */
export const reject = (command: Command, error: JournalUnavailable = closedError()): Effect.Effect<void> => {
  switch (command._tag) {
    case "Append":
      return Deferred.fail(command.request.done, error)
    case "Task":
      return Deferred.succeed(command.done, undefined)
    case "Stop":
      return Effect.void
  }
}

const fail = (requests: ReadonlyArray<AppendRequest>, error: JournalFull | JournalUnavailable) =>
  Effect.forEach(requests, (r) => Deferred.fail(r.done, error), { discard: true })

export const makeWriter = ({ segments, ledger, maxBytes, segmentBytes, policy, onAppended }: WriterConfig) => {
  /** One write (+ fsync) for requests that all fit in the active segment. */
  const flush = (group: ReadonlyArray<AppendRequest>) =>
    Effect.gen(function* () {
      if (group.length === 0) return
      let bytes = group[0]!.bytes
      if (group.length > 1) {
        bytes = new Uint8Array(group.reduce((n, r) => n + r.bytes.length, 0))
        let at = 0
        for (const r of group) {
          bytes.set(r.bytes, at)
          at += r.bytes.length
        }
      }
      const written = yield* Effect.either(segments.write(bytes, policy === "always"))
      if (written._tag === "Left") return yield* fail(group, written.left)
      const { segment, base } = written.right
      const now = yield* Clock.currentTimeMillis
      let at = base
      let appended = 0
      let spilled = 0
      for (const r of group) {
        const refs = r.offsets.map((offset) => ({ segment, offset: at + offset }))
        refs.forEach((ref, i) => ledger.addRecord(segment, ref.offset, r.lengths[i]!, now))
        r.refs = refs
        // An abandoned append was never acknowledged, but its bytes are durable: replay them.
        if (r.spilled || r.abandoned) {
          ledger.pushSpill(refs)
          spilled += refs.length
        }
        at += r.bytes.length
        appended += refs.length
      }
      onAppended(appended)
      yield* Metric.incrementBy(Metrics.appended, appended)
      if (spilled > 0) yield* Metric.incrementBy(Metrics.spilled, spilled)
      yield* Effect.forEach(group, (r) => Deferred.succeed(r.done, r.refs ?? []), { discard: true })
    })

  /** Frees space for an append that would pass `maxBytes`: seal a fully committed active segment. */
  const reclaim = Effect.gen(function* () {
    const active = segments.active()
    if (active && active.size > 0 && ledger.segment(active.segment)?.pending.size === 0) {
      yield* Effect.ignore(segments.roll)
    }
    yield* segments.deleteCommitted
  })

  const full = (size: number) =>
    new JournalFull({
      message: `journal full: ${ledger.totalBytes()} of ${maxBytes} bytes used, ${size} more requested`,
      requestedBytes: size,
      usedBytes: ledger.totalBytes(),
      maxBytes
    })

  const appendAll = (requests: ReadonlyArray<AppendRequest>) =>
    Effect.gen(function* () {
      let group: Array<AppendRequest> = []
      let groupBytes = 0
      const flushGroup = Effect.suspend(() => {
        const g = group
        group = []
        groupBytes = 0
        return flush(g)
      })
      for (const r of requests) {
        if (r.abandoned) continue
        const size = r.bytes.length
        const base = segments.active()?.size ?? 0
        if (base + groupBytes > 0 && base + groupBytes + size > segmentBytes) {
          yield* flushGroup
          const rolled = yield* Effect.either(segments.roll)
          if (rolled._tag === "Left") {
            yield* fail([r], rolled.left)
            continue
          }
        }
        if (ledger.totalBytes() + groupBytes + size > maxBytes) {
          yield* flushGroup
          yield* reclaim
          if (ledger.totalBytes() + size > maxBytes) {
            yield* fail([r], full(size))
            continue
          }
        }
        group.push(r)
        groupBytes += size
      }
      yield* flushGroup
    })

  /** Runs a batch of commands in order; true when it met `Stop` (nothing after it is run). */
  const handle = (commands: ReadonlyArray<Command>): Effect.Effect<boolean> =>
    Effect.gen(function* () {
      let appends: Array<AppendRequest> = []
      for (const [i, command] of commands.entries()) {
        if (command._tag === "Append") {
          appends.push(command.request)
          continue
        }
        yield* appendAll(appends)
        appends = []
        if (command._tag === "Stop") {
          yield* Effect.forEach(commands.slice(i + 1), (c) => reject(c), { discard: true })
          return true
        }
        yield* command.run.pipe(Effect.catchAllCause((cause) => Effect.logError("journal: housekeeping failed", cause)))
        yield* Deferred.succeed(command.done, undefined)
      }
      yield* appendAll(appends)
      return false
    })

  return { handle }
}
