/**
 * In-memory bookkeeping of what is on disk: segments, their uncommitted records, and the
 * FIFO of spilled records not yet handed out. Synchronous and I/O-free — every mutation
 * happens inside one Effect step, so fibers never observe it half-done.
 */
import type { RecordRef } from "./Service.js"

interface PendingRecord {
  readonly length: number
  readonly appendedAt: number
  /** In the spill FIFO and not yet taken. */
  queued: boolean
}

export interface SegmentEntry {
  readonly segment: number
  sealed: boolean
  /** Bytes on disk. */
  size: number
  readonly createdAt: number
  /** Uncommitted intact records by offset; insertion (= file) order, so the first is the oldest. */
  readonly pending: Map<number, PendingRecord>
}

export interface SpillEntry {
  readonly segment: number
  readonly offset: number
  readonly length: number
}

export const makeLedger = () => {
  const segments = new Map<number, SegmentEntry>()
  let totalBytes = 0
  let spill: Array<SpillEntry> = []
  let head = 0
  /** Records put back after a failed read-back; older than anything in `spill`. */
  let front: Array<SpillEntry> = []
  let spilledPending = 0

  const record = (ref: RecordRef) => segments.get(ref.segment)?.pending.get(ref.offset)

  return {
    segments: (): IterableIterator<SegmentEntry> => segments.values(),
    segment: (segment: number) => segments.get(segment),
    totalBytes: () => totalBytes,
    segmentCount: () => segments.size,
    spilledPending: () => spilledPending,

    /** Segments are added in increasing number, so the map iterates oldest first. */
    addSegment(segment: number, sealed: boolean, size: number, createdAt: number): void {
      segments.set(segment, { segment, sealed, size, createdAt, pending: new Map() })
      totalBytes += size
    },
    grow(segment: number, bytes: number): void {
      const entry = segments.get(segment)
      if (entry) {
        entry.size += bytes
        totalBytes += bytes
      }
    },
    seal(segment: number): void {
      const entry = segments.get(segment)
      if (entry) entry.sealed = true
    },
    removeSegment(segment: number): void {
      const entry = segments.get(segment)
      if (!entry) return
      for (const pending of entry.pending.values()) if (pending.queued) spilledPending--
      totalBytes -= entry.size
      segments.delete(segment)
    },
    addRecord(segment: number, offset: number, length: number, appendedAt: number): void {
      segments.get(segment)?.pending.set(offset, { length, appendedAt, queued: false })
    },
    isPending: (ref: RecordRef): boolean => record(ref) !== undefined,
    /** True when the ref was uncommitted (unknown or repeated refs are ignored). */
    commit(ref: RecordRef): boolean {
      const entry = segments.get(ref.segment)
      const pending = entry?.pending.get(ref.offset)
      if (!entry || !pending) return false
      if (pending.queued) spilledPending--
      entry.pending.delete(ref.offset)
      return true
    },
    /** Sealed segments with nothing left to commit: safe to delete. */
    deletable: (): Array<SegmentEntry> => [...segments.values()].filter((s) => s.sealed && s.pending.size === 0),
    oldestUncommittedAt(): number | undefined {
      for (const entry of segments.values()) {
        for (const pending of entry.pending.values()) return pending.appendedAt
      }
      return undefined
    },

    /** Queues uncommitted records for `takeSpilled`; a record already queued is not queued twice. */
    pushSpill(entries: ReadonlyArray<RecordRef>): void {
      for (const ref of entries) {
        const pending = record(ref)
        if (!pending || pending.queued) continue
        pending.queued = true
        spilledPending++
        spill.push({ segment: ref.segment, offset: ref.offset, length: pending.length })
      }
    },
    /**
     * Takes up to `max` of the oldest queued records off the FIFO (committed ones are passed
     * over). If reading them back fails, `untake` puts them back in front, oldest first.
     */
    takeSpill(max: number): Array<SpillEntry> {
      const taken: Array<SpillEntry> = []
      while (taken.length < max && (front.length > 0 || head < spill.length)) {
        const entry = front.length > 0 ? front.shift()! : spill[head++]!
        const pending = record(entry)
        if (!pending?.queued) continue
        pending.queued = false
        spilledPending--
        taken.push(entry)
      }
      if (head > 4096 && head * 2 > spill.length) {
        spill = spill.slice(head)
        head = 0
      }
      return taken
    },
    untake(entries: ReadonlyArray<SpillEntry>): void {
      const back: Array<SpillEntry> = []
      for (const entry of entries) {
        const pending = record(entry)
        if (!pending || pending.queued) continue
        pending.queued = true
        spilledPending++
        back.push(entry)
      }
      front = [...back, ...front]
    }
  }
}

export type Ledger = ReturnType<typeof makeLedger>
