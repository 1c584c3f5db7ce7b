/**
 * The ingest pipeline as the rest of the service sees it: `submit` a request's events, and the
 * `CommittedEvents` port it publishes committed batches through. The live implementation is
 * Pipeline.ts.
 */
import { Context, Data, Effect, Layer } from "effect"
import type { Outcome } from "./Batcher.js"
import type { IngestEvent } from "./IngestEvent.js"

export type { Outcome, Rejected } from "./Batcher.js"

export interface Submitted {
  /** One per submitted event, in order. Provisional ("accepted" = queued) unless `committed`. */
  readonly outcomes: ReadonlyArray<Outcome>
  readonly committed: boolean
}

export class PipelineFull extends Data.TaggedError("PipelineFull")<{
  readonly retryAfterSeconds: number
  readonly reason: string
}> {}
export class PipelineClosed extends Data.TaggedError("PipelineClosed")<{}> {}

/** Receives every batch after it committed (the realtime hub subscribes here). */
export class CommittedEvents extends Context.Tag("Ingest/CommittedEvents")<CommittedEvents, {
  readonly publish: (events: ReadonlyArray<IngestEvent>) => Effect.Effect<void>
}>() {
  static readonly None = Layer.succeed(CommittedEvents, { publish: () => Effect.void })
}

export class IngestPipeline extends Context.Tag("Ingest/Pipeline")<IngestPipeline, {
  readonly submit: (
    events: ReadonlyArray<IngestEvent>,
    options: { readonly waitForCommit: boolean }
  ) => Effect.Effect<Submitted, PipelineFull | PipelineClosed>
  /** Events admitted and not yet committed (in memory, not counting spilled ones on disk). */
  readonly pending: Effect.Effect<number>
}>() {}
