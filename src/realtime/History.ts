/**
 * The hub's bounded history: a ring of the last events (by count and by age) with the ids
 * that `Last-Event-ID` resumes from.
 *
 * Event id: `<ms>-<seq>-<instance>`, e.g. `1718000000123-42-9f3a1c07`
 *   ms        hub time in epoch milliseconds: the commit time, never below the previous id's
 *   seq       1, 2, 3 … per hub, without holes: the exact position in this hub's history
 *   instance  8 hex digits, random per process start
 * Ids of one process increase strictly (ms never decreases, seq always grows). A cursor of this
 * instance resumes exactly; a cursor of another process (a reconnect that landed elsewhere, or
 * a restart) resumes by time, at least once: events from up to `CROSS_PROCESS_SKEW_MS` before
 * the cursor are sent again, since another process may have ordered them differently.
 *
 * With the NATS bus (src/realtime/nats/) `seq` is the event's position in the stream and `instance`
 * the stream's tag, the same on every api node: a cursor is then a position every node
 * understands (`appendSequenced`; the hub fetches what its ring no longer holds from the stream).
 */
import type { ResetReason } from "../../schema/api/Realtime.js"
import { messageFrame } from "./Frames.js"
import { agentOf, type LiveEventInput, liveEventJson, tickerEventJson } from "./Topics.js"

export const CROSS_PROCESS_SKEW_MS = 1000

/**
 * One event in the history. Its SSE messages are rendered on first use and then kept: with no
 * stream asking for it, an event costs no JSON at all (most events are never sent).
 */
export class Entry {
  private fullFrame: string | undefined
  private tickFrame: string | undefined | null = null

  constructor(
    readonly seq: number,
    readonly ms: number,
    readonly id: string,
    readonly commitMs: number,
    readonly gatewayId: string,
    readonly agentId: string | undefined,
    /** Undefined for a gap marker (in no topic). */
    private readonly event: LiveEventInput | undefined
  ) {}

  /** The whole SSE message for vendor and agent topics. */
  get full(): string {
    if (this.fullFrame === undefined) {
      this.fullFrame = this.event === undefined ? "" : messageFrame(this.id, this.event.type, liveEventJson(this.event))
    }
    return this.fullFrame
  }

  /** The SSE message for the ticker (PaymentAuthorized only). */
  get tick(): string | undefined {
    if (this.tickFrame === null) {
      this.tickFrame = this.event?.type === "PaymentAuthorized"
        ? messageFrame(this.id, this.event.type, tickerEventJson(this.event))
        : undefined
    }
    return this.tickFrame
  }

  get onTicker(): boolean {
    return this.event?.type === "PaymentAuthorized"
  }
}

/** Only what rendering needs: the rest of an ingested event (attributes, typed copy) can be freed. */
const slim = (event: LiveEventInput): LiveEventInput => ({
  source: event.source,
  id: event.id,
  type: event.type,
  time: event.time,
  gatewayId: event.gatewayId,
  subject: event.subject,
  data: event.data
})

/** An event at a known position of a shared log (the bus's stream sequence). */
export interface SequencedEvent {
  readonly seq: number
  readonly commitMs: number
  readonly event: LiveEventInput
}

/** The entry for a sequenced event: the same id on every node (commit ms as published, not this node's clock). */
export const sequencedEntry = (instance: string, item: SequencedEvent): Entry =>
  new Entry(
    item.seq,
    item.commitMs,
    formatEventId({ ms: item.commitMs, seq: item.seq, instance }),
    item.commitMs,
    item.event.gatewayId,
    agentOf(item.event),
    slim(item.event)
  )

export interface EventId {
  readonly ms: number
  readonly seq: number
  readonly instance: string
}

const ID_PATTERN = /^(\d{1,15})-(\d{1,15})-([0-9a-f]{8})$/

export const formatEventId = (id: EventId): string => `${id.ms}-${id.seq}-${id.instance}`

export const parseEventId = (raw: string): EventId | undefined => {
  const match = ID_PATTERN.exec(raw.trim())
  if (match === null) return undefined
  return { ms: Number(match[1]), seq: Number(match[2]), instance: match[3] ?? "" }
}

export type Resume =
  | { readonly _tag: "Live" }
  | { readonly _tag: "Replay"; readonly entries: ReadonlyArray<Entry> }
  | { readonly _tag: "Reset"; readonly reason: typeof ResetReason.Type }

export class History {
  private readonly ring: Array<Entry | undefined>
  private head = 0
  private size = 0
  private nextSeq = 1
  private lastMs = 0
  /** Cursors before these may have missed events (not received during a gap, or evicted). */
  private coveredFromSeq = 1
  private coveredFromMs: number

  constructor(
    readonly instance: string,
    private readonly capacity: number,
    private readonly windowMs: number,
    startMs: number
  ) {
    this.ring = new Array<Entry | undefined>(capacity)
    this.coveredFromMs = startMs
  }

  get length(): number {
    return this.size
  }

  /** Seq of the newest event (0 before the first). */
  get lastSeq(): number {
    return this.nextSeq - 1
  }

  /** Id of the newest event, for a reset message (so a reconnect after it resumes from there). */
  get latestId(): string | undefined {
    return this.size === 0 ? undefined : this.at(this.size - 1).id
  }

  append(events: ReadonlyArray<LiveEventInput>, commitMs: number, nowMs: number): ReadonlyArray<Entry> {
    this.evict(nowMs)
    const ms = this.advance(commitMs)
    return events.map((event) => {
      const id = this.nextId(ms)
      return this.push(new Entry(id.seq, id.ms, id.id, commitMs, event.gatewayId, agentOf(event), slim(event)))
    })
  }

  /**
   * Events at their positions in a shared log (ascending; ones at or below the last seq are
   * already here and skipped). A jump in seq is fine: `resume` finds positions by seq.
   */
  appendSequenced(items: ReadonlyArray<SequencedEvent>, nowMs: number): ReadonlyArray<Entry> {
    this.evict(nowMs)
    const out: Array<Entry> = []
    for (const item of items) {
      if (item.seq < this.nextSeq) continue
      this.nextSeq = item.seq + 1
      out.push(this.push(sequencedEntry(this.instance, item)))
    }
    return out
  }

  /** Seq of the oldest event held (`lastSeq + 1` when empty). */
  get firstSeq(): number {
    return this.size === 0 ? this.nextSeq : this.at(0).seq
  }

  /** The held entries after `seq`. */
  entriesAfter(seq: number): Array<Entry> {
    return this.slice(this.firstAfterSeq(seq))
  }

  /**
   * Events may have been missed at this point (the cross-process feed was interrupted): a marker
   * (in no topic) takes the next id, and only cursors at or after it still resume. Returns its id.
   */
  markGap(nowMs: number): string {
    this.evict(nowMs)
    const id = this.nextId(this.advance(nowMs))
    this.push(new Entry(id.seq, id.ms, id.id, nowMs, "", undefined, undefined))
    this.coveredFromSeq = id.seq
    this.coveredFromMs = Math.max(this.coveredFromMs, id.ms)
    return id.id
  }

  private advance(ms: number): number {
    this.lastMs = Math.max(this.lastMs, ms)
    return this.lastMs
  }

  private nextId(ms: number): { readonly seq: number; readonly ms: number; readonly id: string } {
    const seq = this.nextSeq++
    return { seq, ms, id: formatEventId({ ms, seq, instance: this.instance }) }
  }

  private push(entry: Entry): Entry {
    if (this.size === this.capacity) this.dropOldest()
    this.ring[(this.head + this.size) % this.capacity] = entry
    this.size += 1
    return entry
  }

  /** What a stream resuming from `cursor` gets before live events (not yet filtered by topic). */
  resume(cursor: string | undefined, nowMs: number): Resume {
    this.evict(nowMs)
    if (cursor === undefined || cursor.trim() === "") return { _tag: "Live" }
    const id = parseEventId(cursor)
    if (id === undefined) return { _tag: "Reset", reason: "cursor_unknown" }
    if (id.instance === this.instance) {
      if (id.seq >= this.nextSeq) return { _tag: "Reset", reason: "cursor_unknown" }
      const firstSeq = this.firstSeq
      if (id.seq < firstSeq || id.seq < this.coveredFromSeq) return { _tag: "Reset", reason: "cursor_too_old" }
      return { _tag: "Replay", entries: this.slice(this.firstAfterSeq(id.seq)) }
    }
    const from = id.ms - CROSS_PROCESS_SKEW_MS
    if (id.ms < nowMs - this.windowMs || from < this.coveredFromMs) return { _tag: "Reset", reason: "cursor_too_old" }
    return { _tag: "Replay", entries: this.slice(this.firstAtOrAfter(from)) }
  }

  private at(position: number): Entry {
    const entry = this.ring[(this.head + position) % this.capacity]
    if (entry === undefined) throw new Error(`history slot ${position} is empty`)
    return entry
  }

  private slice(fromPosition: number): Array<Entry> {
    const out: Array<Entry> = []
    for (let p = Math.max(0, fromPosition); p < this.size; p++) out.push(this.at(p))
    return out
  }

  /** First position whose seq > `seq` (seq increases along the ring). */
  private firstAfterSeq(seq: number): number {
    let lo = 0
    let hi = this.size
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.at(mid).seq <= seq) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  /** First position whose ms ≥ `ms` (ms never decreases along the ring). */
  private firstAtOrAfter(ms: number): number {
    let lo = 0
    let hi = this.size
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.at(mid).ms < ms) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  private dropOldest(): void {
    const oldest = this.at(0)
    this.ring[this.head] = undefined
    this.head = (this.head + 1) % this.capacity
    this.size -= 1
    this.coveredFromMs = Math.max(this.coveredFromMs, oldest.ms + 1)
  }

  private evict(nowMs: number): void {
    const oldestAllowed = nowMs - this.windowMs
    while (this.size > 0 && this.at(0).ms < oldestAllowed) this.dropOldest()
  }
}
