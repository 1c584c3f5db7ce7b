/**
 * Where a gateway hands a payment intent for settlement (the relayer). The client sends every
 * intent there and, as a `PaymentIntent` event, to the receiver: settlement moves the money,
 * the receiver keeps the record. A failure of one does not stop the other.
 */
import { Data, Effect, Ref } from "effect"
import type { PaymentIntent } from "../schema/events/index.js"
import { request } from "./Http.js"

export type IntentJson = typeof PaymentIntent.Encoded

export class SettlementError extends Data.TaggedError("SettlementError")<{ readonly reason: string }> {
  override get message(): string {
    return `settlement sink refused the intent: ${this.reason}`
  }
}

export interface SettlementSink {
  readonly submit: (intent: IntentJson) => Effect.Effect<void, SettlementError>
}

/** POSTs each intent as JSON to `url` (the gateway's `relayer_url`); any 2xx is success. */
export const httpSettlementSink = (url: string): SettlementSink => ({
  submit: (intent) =>
    request({
      method: "POST",
      url,
      headers: { "content-type": "application/json" },
      body: Buffer.from(JSON.stringify(intent)),
      timeout: "10 seconds"
    }).pipe(
      Effect.mapError((e) => new SettlementError({ reason: e.message })),
      Effect.flatMap((a) =>
        a.status >= 200 && a.status < 300 ? Effect.void : Effect.fail(new SettlementError({ reason: `HTTP ${a.status}` }))
      )
    )
})

/** Keeps what it was given: for tests and the simulator. */
export const memorySettlementSink = Effect.gen(function*() {
  const received = yield* Ref.make<ReadonlyArray<IntentJson>>([])
  const sink: SettlementSink = { submit: (intent) => Ref.update(received, (all) => [...all, intent]) }
  return { sink, received: Ref.get(received) }
})

/** Counts what it was given, keeping nothing: for long simulator runs. */
export const countingSettlementSink = (): SettlementSink & { readonly count: () => number } => {
  let n = 0
  return {
    submit: () => Effect.sync(() => void (n += 1)),
    count: () => n
  }
}
