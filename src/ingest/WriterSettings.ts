/**
 * How the route writers (Batcher.ts) batch, share the database and retry: their settings and
 * defaults, and a batch cut into statements of a bounded size.
 */
import { Duration } from "effect"
import { ROUTES } from "./IngestEvent.js"

export interface WriterSettings {
  readonly batchSize: number
  /**
   * Bytes of rows per statement: a batch larger than this is written as several statements. A
   * thousand 1 MB events in one statement would pass PostgreSQL's 1 GB value limit (and its
   * memory); after an outage the journal drains in full batches.
   */
  readonly maxBatchBytes: number
  /**
   * Writes running at once across all routes; the others wait, and their batches grow meanwhile.
   * Fewer concurrent statements leave the CPU to the receiver and cost the database less per event.
   */
  readonly maxConcurrentFlushes: number
  /** Attempts at a `transient` failure before the batch is treated as refused. */
  readonly transientAttempts: number
  readonly retryBase: Duration.Duration
  readonly retryMax: Duration.Duration
  /**
   * Longest one write attempt may take. A write still running then (its connection hung
   * without an error) is abandoned as `unavailable` and retried: its slot is free again at once.
   */
  readonly writeTimeout: Duration.Duration
  /** A write running this long lends its slot to the other routes until it ends (WriteSlots.ts). */
  readonly lendSlotAfter: Duration.Duration
}

export const defaultWriterSettings = (
  batchSize: number,
  maxConcurrentFlushes = ROUTES.length,
  writeTimeout: Duration.DurationInput = Duration.seconds(30),
  maxBatchBytes = 16 * 1024 * 1024
): WriterSettings => ({
  batchSize,
  maxBatchBytes,
  maxConcurrentFlushes,
  transientAttempts: 5,
  retryBase: Duration.millis(50),
  retryMax: Duration.seconds(5),
  writeTimeout: Duration.decode(writeTimeout),
  lendSlotAfter: Duration.seconds(2)
})

/** Consecutive parts of at most `maxBytes` of rows each (an item larger than that is a part alone). */
export const byBytes = <A extends { readonly row: Uint8Array }>(items: ReadonlyArray<A>, maxBytes: number): Array<ReadonlyArray<A>> => {
  const parts: Array<Array<A>> = []
  let part: Array<A> = []
  let bytes = 0
  for (const item of items) {
    if (part.length > 0 && bytes + item.row.byteLength > maxBytes) {
      parts.push(part)
      part = []
      bytes = 0
    }
    part.push(item)
    bytes += item.row.byteLength
  }
  if (part.length > 0) parts.push(part)
  return parts
}
