/**
 * The journal port in memory, for unit tests of its callers (the ingest pipeline's spill and
 * drain paths). Same contract as the disk journal — FIFO spill queue, recovered records first,
 * `JournalFull` at the byte cap (encoded sizes, as on disk), commit frees space at once — but
 * one endless segment and nothing durable.
 */
import { Clock, Effect, Layer } from "effect"
import { encodedSize } from "./Format.js"
import {
  Journal,
  JournalFull,
  type JournalService,
  JournalUnavailable,
  type RecordRef,
  type RecoveryReport
} from "./Service.js"

export interface JournalInMemoryOptions {
  readonly maxBytes?: number
  /** Payloads "found on disk at start": the first records `takeSpilled` returns. */
  readonly recovered?: ReadonlyArray<Uint8Array>
  /** Consulted on every append; while it returns an errno code appends fail `JournalUnavailable`. */
  readonly failure?: () => string | undefined
}

interface Stored {
  readonly payload: Uint8Array
  readonly appendedAt: number
}

export const makeJournalInMemory = (options: JournalInMemoryOptions = {}): Effect.Effect<JournalService> =>
  Effect.gen(function* () {
    const maxBytes = options.maxBytes ?? 1024 * 1024 * 1024
    const records = new Map<number, Stored>()
    const spill: Array<number> = []
    let nextOffset = 0
    let bytes = 0
    let appended = 0
    let replayed = 0

    const store = (payload: Uint8Array, appendedAt: number): RecordRef => {
      const offset = nextOffset
      nextOffset += encodedSize(payload.length)
      bytes += encodedSize(payload.length)
      records.set(offset, { payload, appendedAt })
      return { segment: 1, offset }
    }

    const now = yield* Clock.currentTimeMillis
    for (const payload of options.recovered ?? []) spill.push(store(payload, now).offset)
    const recovery: RecoveryReport = {
      segments: records.size > 0 ? 1 : 0,
      records: records.size,
      bytes,
      truncated: [],
      corrupt: []
    }

    const append: JournalService["append"] = (payloads, { spilled }) =>
      Effect.gen(function* () {
        const code = options.failure?.()
        if (code !== undefined) {
          return yield* new JournalUnavailable({ message: `journal write failed (${code})`, op: "write", code })
        }
        const requested = payloads.reduce((n, p) => n + encodedSize(p.length), 0)
        if (bytes + requested > maxBytes) {
          return yield* new JournalFull({
            message: `journal full: ${bytes} of ${maxBytes} bytes used, ${requested} more requested`,
            requestedBytes: requested,
            usedBytes: bytes,
            maxBytes
          })
        }
        const at = yield* Clock.currentTimeMillis
        const refs = payloads.map((payload) => store(payload.slice(), at))
        if (spilled) for (const ref of refs) spill.push(ref.offset)
        appended += refs.length
        return refs
      })

    const takeSpilled: JournalService["takeSpilled"] = (max) =>
      Effect.sync(() => {
        const out: Array<{ ref: RecordRef; payload: Uint8Array }> = []
        while (spill.length > 0 && out.length < max) {
          const offset = spill.shift()!
          const stored = records.get(offset)
          if (stored) out.push({ ref: { segment: 1, offset }, payload: stored.payload.slice() })
        }
        replayed += out.length
        return out
      })

    const commit: JournalService["commit"] = (refs) =>
      Effect.sync(() => {
        for (const ref of refs) {
          const stored = ref.segment === 1 ? records.get(ref.offset) : undefined
          if (!stored) continue
          records.delete(ref.offset)
          bytes -= encodedSize(stored.payload.length)
        }
      })

    const stats: JournalService["stats"] = Effect.sync(() => ({
      bytes,
      segments: records.size > 0 ? 1 : 0,
      spilledPending: spill.filter((offset) => records.has(offset)).length,
      oldestUncommittedAt: records.values().next().value?.appendedAt,
      appended,
      replayed,
      corruptRecords: 0
    }))

    return { append, takeSpilled, commit, stats, recovery }
  })

export const JournalInMemory = (options: JournalInMemoryOptions = {}): Layer.Layer<Journal> =>
  Layer.effect(Journal, makeJournalInMemory(options))
