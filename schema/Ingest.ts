/** What `POST /v1/ingest` answers, and the body of every non-2xx response. */
import { Schema } from "effect"
import { NonNegativeInt, OneOf, Str } from "./Primitives.js"

const opt = <S extends Schema.Schema.AnyNoContext>(schema: S) => Schema.optionalWith(schema, { exact: true })

export const IngestStatus = OneOf("accepted", "duplicate", "rejected").annotations({
  description: "accepted: stored or queued; duplicate: source+id seen before; rejected: invalid (kept in the dead-letter table)."
})
export type IngestStatus = typeof IngestStatus.Type

export const IngestOutcome = Schema.Struct({
  index: NonNegativeInt.annotations({ description: "Position of the event in the request (0 for a single event)." }),
  id: opt(Str.annotations({ description: "The event's `id`, when it could be read." })),
  source: opt(Str.annotations({ description: "The event's `source`, when it could be read." })),
  type: opt(Str.annotations({ description: "The event's `type`, when it could be read." })),
  status: IngestStatus,
  reason: opt(Str.annotations({ description: "Why the event was rejected." })),
  field: opt(Str.annotations({ description: "Path of the offending field, e.g. \"data.amount\" or \"time\"." }))
}).annotations({ title: "IngestOutcome", description: "Verdict on one event of the request." })
export type IngestOutcome = typeof IngestOutcome.Type

export const IngestResponse = Schema.Struct({
  accepted: NonNegativeInt.annotations({ description: "Number of events accepted." }),
  duplicate: NonNegativeInt.annotations({ description: "Number of events already received before." }),
  rejected: NonNegativeInt.annotations({ description: "Number of invalid events." }),
  committed: Schema.Boolean.annotations({
    description: "True when the server waited for the database commit before answering."
  }),
  results: Schema.Array(IngestOutcome).annotations({ description: "One outcome per event, in request order." })
}).annotations({ title: "IngestResponse", description: "Answer to POST /v1/ingest (202)." })
export type IngestResponse = typeof IngestResponse.Type

export const ErrorBody = Schema.Struct({
  error: Str.annotations({ description: "Machine-readable code, e.g. \"payload_too_large\"." }),
  message: Str.annotations({ description: "Human-readable explanation." }),
  field: opt(Str.annotations({ description: "Path of the offending field, when there is one." }))
}).annotations({ title: "ErrorBody", description: "Body of every non-2xx response." })
export type ErrorBody = typeof ErrorBody.Type
