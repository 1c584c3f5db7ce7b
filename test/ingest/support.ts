/**
 * Validated `IngestEvent`s for the store, pipeline and intent tests, made the way the handler
 * makes them (`validateCandidate`), with a fixed receive time and no time window.
 */
import { Either } from "effect"
import { validateCandidate } from "../../src/ingest/Validate.js"
import type { IngestEvent } from "../../src/ingest/IngestEvent.js"
import type { IntentEvent } from "../../src/ingest/IntentStateMachine.js"

export const GATEWAY = "gw-eu-1"

/** A receive time shortly after the example events (2025-06-01T12:00Z …). */
export const RECEIVED_AT = Date.parse("2025-06-01T12:10:00Z")

const NO_WINDOW = 1e15

export const toIngestEvent = (
  wire: unknown,
  options: { readonly gatewayId?: string; readonly receivedAt?: number } = {}
): IngestEvent =>
  Either.getOrThrowWith(
    validateCandidate({ index: 0, value: wire }, {
      gatewayId: options.gatewayId ?? GATEWAY,
      now: options.receivedAt ?? RECEIVED_AT,
      maxAgeMs: NO_WINDOW,
      maxSkewMs: NO_WINDOW
    }),
    (rejection) => new Error(`test event is invalid: ${rejection.field} ${rejection.reason}`)
  )

export const toIntentEvent = (event: IngestEvent): IntentEvent => {
  if (event.known?.type !== "PaymentIntent") throw new Error(`not a PaymentIntent: ${event.type}`)
  return { event, data: event.known.data }
}
