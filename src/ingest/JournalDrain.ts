/**
 * Reads spilled (and, at start, recovered) events back from the journal into the route writers
 * while the pipeline has room in memory. Each record passes admission again: one this version
 * cannot read or would refuse is dead-lettered and released, never replayed forever.
 */
import { Clock, Effect, Either, Metric, Schedule } from "effect"
import type { Journal, RecordRef } from "../journal/Service.js"
import { type AdmissionLimits, admitRecord } from "./Admission.js"
import type { Item } from "./Batcher.js"
import type { DeadLetters } from "./DeadLetters.js"
import { eventKey } from "./IngestEvent.js"
import * as Metrics from "./Metrics.js"

export interface JournalDrainOptions {
  readonly journal: Journal["Type"]
  readonly deadLetters: DeadLetters["Type"]
  readonly limits: AdmissionLimits
  /** Most records per read. */
  readonly batchSize: number
  /** Events the pipeline can take into memory now (nothing while a route is failing). */
  readonly room: () => number
  readonly closed: () => boolean
  /** Into the route writers; the records are released once their events are settled. */
  readonly admit: (items: ReadonlyArray<Item>) => Effect.Effect<void>
}

/** Starts the drain fiber in the current scope: a read every 50 ms while there is room, until closed. */
export const startJournalDrain = (options: JournalDrainOptions) => {
  const { journal, deadLetters, limits } = options
  const drainOnce = Effect.gen(function*() {
    const room = options.room()
    if (options.closed() || room <= 0) return
    const records = yield* journal.takeSpilled(Math.min(options.batchSize, room))
    if (records.length === 0) return
    const now = yield* Clock.currentTimeMillis
    const items: Array<Item> = []
    const unreadable: Array<RecordRef> = []
    for (const { payload, ref } of records) {
      const result = admitRecord(payload, limits)
      if (Either.isRight(result)) {
        const { event, row } = result.right
        items.push({ event, row, key: eventKey(event), index: 0, ack: undefined, ref })
        continue
      }
      unreadable.push(ref)
      yield* Metric.increment(Metrics.admissionRefused)
      yield* deadLetters.record(undefined, [{
        index: 0,
        reason: `journal record refused on replay: ${result.left.reason}`,
        field: result.left.field,
        payload: result.left.text
      }], now)
    }
    if (items.length > 0) yield* options.admit(items)
    if (unreadable.length > 0) yield* journal.commit(unreadable)
    yield* Metric.incrementBy(Metrics.replayed, records.length)
  }).pipe(Effect.catchAll((error) => Effect.logWarning("journal read-back failed").pipe(Effect.annotateLogs({ error: error.message }))))
  return drainOnce.pipe(
    Effect.repeat({ schedule: Schedule.spaced("50 millis"), while: () => !options.closed() }),
    Effect.forkScoped
  )
}
