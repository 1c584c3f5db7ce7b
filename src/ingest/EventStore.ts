/**
 * The port the pipeline writes through. `EventStorePg` is the real one; `EventStoreInMemory`
 * (beside it) backs the unit tests of routing, outcomes, deduplication and the intent machine.
 */
import { Context, Data, type Effect } from "effect"
import type { IngestEvent, Route } from "./IngestEvent.js"

/** Keys (see `eventKey`) of the events this write stored; the others were duplicates. */
export interface WriteResult {
  readonly inserted: ReadonlySet<string>
}

export interface DeadLetter {
  readonly receivedAt: number
  readonly gatewayId: string | undefined
  readonly source: string | undefined
  readonly eventId: string | undefined
  readonly type: string | undefined
  readonly reason: string
  readonly field: string | undefined
  /** The offending input as text, already truncated to the configured bound. */
  readonly payload: string
  readonly payloadBytes: number
}

export interface GatewaySeen {
  readonly lastSeenAt: number
  readonly version: string | undefined
}

/** The database refused or could not be reached; the batch is retried, never dropped. */
export class StoreError extends Data.TaggedError("StoreError")<{
  readonly message: string
  readonly cause?: unknown
  /** The database refused the data itself (SQLSTATE class 22): retrying the same batch cannot help. */
  readonly permanent?: boolean
}> {}

export class EventStore extends Context.Tag("Ingest/EventStore")<EventStore, {
  /** Writes one route's batch — typed rows and raw log — atomically; duplicates are skipped. */
  readonly write: (route: Route, events: ReadonlyArray<IngestEvent>) => Effect.Effect<WriteResult, StoreError>
  readonly deadLetter: (rows: ReadonlyArray<DeadLetter>) => Effect.Effect<void, StoreError>
  /** Last-seen time (and software version) per gateway, coalesced by the caller. */
  readonly touchGateways: (seen: ReadonlyMap<string, GatewaySeen>) => Effect.Effect<void, StoreError>
}>() {}
