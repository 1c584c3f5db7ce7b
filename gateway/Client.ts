/**
 * The gateway client: what a TypeScript gateway embeds to report to MachPay Telemetry.
 *
 *     const client = yield* makeGatewayClient({ gatewayId, receiverUrl, ingestKey, signingSecret })
 *     yield* client.send(event)             // any CloudEvent of the contract
 *     yield* client.recordRequest(served)   // feeds the 60 s telemetry packet
 *     yield* client.emitIntent(intent)      // to the settlement sink and to the receiver
 *     yield* client.setConfig(config)       // sent in the next packet, at once
 *
 * It is scoped: the sender and the telemetry window run as fibers in the caller's scope, and
 * closing the scope sends the open window and drains the outbox (bounded by `shutdownTimeout`).
 * Events are batched (`maxBatchEvents` or `maxBatchDelay` after the first, whichever comes
 * first), gzipped, signed, and retried as Send.ts describes; a batch that still fails after
 * `maxAttempts` is dropped, and so is an event offered to a full outbox — both logged and
 * counted in `stats`.
 */
import { Clock, Duration, Effect, Random, Ref, Schedule, Stream } from "effect"
import type { CloudEventJson } from "../schema/CloudEvent.js"
import type { IngestResponse } from "../schema/Ingest.js"
import { checkReady, describeReadiness, ReceiverNotReady } from "./Health.js"
import { makeOutbox } from "./Outbox.js"
import { type Attempt, encodeBatch, sendOnce, type Wire } from "./Send.js"
import type { IntentJson, SettlementSink } from "./Settlement.js"
import { type ConfigJson, type PacketJson, type ServedRequest, Window } from "./Window.js"

export interface GatewayClientOptions {
  readonly gatewayId: string
  /** Base URL of a receiver, e.g. http://127.0.0.1:8080. */
  readonly receiverUrl: string
  readonly ingestKey: string
  /** When the gateway has a signing secret on the server, every request must be signed with it. */
  readonly signingSecret?: string
  readonly maxBatchEvents?: number
  readonly maxBatchDelay?: Duration.DurationInput
  /** Events held in memory while the receiver is slow or away; beyond it new events are dropped. */
  readonly bufferCapacity?: number
  /** Requests in flight at once (1 keeps a gateway's events in order). */
  readonly concurrency?: number
  readonly gzip?: boolean
  /** Ask the receiver to answer after the database commit (`Prefer: wait=commit`). */
  readonly waitForCommit?: boolean
  readonly requestTimeout?: Duration.DurationInput
  readonly retry?: {
    readonly baseDelay?: Duration.DurationInput
    readonly maxDelay?: Duration.DurationInput
    /** Attempts per batch (first send included) before it is dropped. */
    readonly maxAttempts?: number
  }
  /** Fail start-up when the receiver is not ready; otherwise warn and buffer. */
  readonly requireReady?: boolean
  /** Skip the `/health/ready` check on start. */
  readonly skipReadyCheck?: boolean
  readonly settlement?: SettlementSink
  readonly telemetry?: {
    readonly windowSeconds?: number
    readonly gatewayVersion?: string
    readonly asset?: string
  }
  /** The gateway's configuration at start; it goes in the first packet. */
  readonly config?: ConfigJson
  readonly shutdownTimeout?: Duration.DurationInput
  /** Prefix of generated event ids (intents, packets); unique per gateway process by default. */
  readonly idPrefix?: string
  /** Told about every batch once it is settled: delivered (with the receiver's answer) or dropped. */
  readonly onBatch?: (result: BatchResult) => void
}

export type BatchResult =
  | { readonly _tag: "Delivered"; readonly events: ReadonlyArray<CloudEventJson>; readonly response: IngestResponse | undefined }
  | { readonly _tag: "Dropped"; readonly events: ReadonlyArray<CloudEventJson>; readonly reason: string }

export interface ClientStats {
  readonly offered: number
  readonly requests: number
  readonly accepted: number
  readonly duplicate: number
  readonly rejected: number
  readonly retries: { readonly retryAfter: number; readonly transient: number }
  readonly dropped: { readonly buffer_full: number; readonly gave_up: number; readonly refused: number }
  readonly settlement: { readonly ok: number; readonly failed: number }
  readonly packets: number
  readonly configsSent: number
  /** Events held: queued, in a forming batch or in flight (at most `bufferCapacity`). */
  readonly buffered: number
}

export interface GatewayClient {
  readonly send: (event: CloudEventJson) => Effect.Effect<boolean>
  readonly emitIntent: (intent: IntentJson) => Effect.Effect<boolean>
  readonly recordRequest: (request: ServedRequest) => Effect.Effect<void>
  readonly setConfig: (config: ConfigJson) => Effect.Effect<void>
  /** Closes the telemetry window now and queues its packet. */
  readonly closeWindow: Effect.Effect<PacketJson>
  /** Waits until everything offered so far is delivered or dropped. */
  readonly flush: Effect.Effect<void>
  readonly stats: Effect.Effect<ClientStats>
}

const counters = () => ({
  offered: 0, requests: 0, accepted: 0, duplicate: 0, rejected: 0, retryAfter: 0, transient: 0,
  settlementOk: 0, settlementFailed: 0, packets: 0, configsSent: 0
})

export const makeGatewayClient = (options: GatewayClientOptions) =>
  Effect.gen(function*() {
    if (options.skipReadyCheck !== true) {
      const readiness = yield* checkReady(options.receiverUrl)
      if (readiness._tag === "Ready") {
        yield* Effect.logInfo(describeReadiness(options.receiverUrl, readiness))
      } else if (options.requireReady === true) {
        return yield* new ReceiverNotReady({ receiverUrl: options.receiverUrl, readiness })
      } else {
        yield* Effect.logWarning(`${describeReadiness(options.receiverUrl, readiness)}; events are buffered and retried`)
      }
    }

    const source = `machpay://gateway/${options.gatewayId}`
    const idPrefix = options.idPrefix ?? `${options.gatewayId}-${(yield* Clock.currentTimeMillis).toString(36)}-${(yield* Random.nextIntBetween(0, 1 << 30)).toString(36)}`
    const wire: Wire = {
      receiverUrl: options.receiverUrl,
      ingestKey: options.ingestKey,
      signingSecret: options.signingSecret,
      gzip: options.gzip ?? true,
      waitForCommit: options.waitForCommit ?? false,
      timeout: options.requestTimeout ?? "15 seconds"
    }
    const baseDelayMs = Duration.toMillis(Duration.decode(options.retry?.baseDelay ?? "200 millis"))
    const maxDelayMs = Duration.toMillis(Duration.decode(options.retry?.maxDelay ?? "30 seconds"))
    const maxAttempts = options.retry?.maxAttempts ?? 20
    const windowSeconds = options.telemetry?.windowSeconds ?? 60
    const c = counters()
    let seq = 0

    const outbox = yield* makeOutbox<CloudEventJson>({ capacity: options.bufferCapacity ?? 100_000 })

    const envelope = (type: string, data: unknown) =>
      Clock.currentTimeMillis.pipe(Effect.map((now): CloudEventJson => ({
        specversion: "1.0",
        id: `${idPrefix}-${++seq}`,
        source,
        type,
        time: new Date(now).toISOString(),
        data
      } as CloudEventJson)))

    const send = (event: CloudEventJson) =>
      Effect.sync(() => void (c.offered += 1)).pipe(Effect.zipRight(outbox.offer(event)))

    /** Exponential backoff with jitter: a random delay in [d/2, d], d = base·2^(attempt-1) capped. */
    const backoff = (attempt: number) =>
      Random.next.pipe(Effect.map((r) => {
        const d = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(attempt - 1, 30))
        return Duration.millis(Math.round(d / 2 + (r * d) / 2))
      }))

    const deliver = (events: ReadonlyArray<CloudEventJson>) =>
      Effect.gen(function*() {
        const encoded = yield* encodeBatch(wire, events)
        let last: Attempt | undefined
        for (let attempt = 1; attempt <= maxAttempts; attempt++) {
          c.requests += 1
          last = yield* sendOnce(wire, encoded)
          if (last._tag === "Delivered") {
            const r = last.response
            if (r === undefined) c.accepted += events.length
            else {
              c.accepted += r.accepted
              c.duplicate += r.duplicate
              c.rejected += r.rejected
              if (r.rejected > 0) {
                const first = r.results.find((o) => o.status === "rejected")
                yield* Effect.logWarning(`receiver rejected ${r.rejected} event(s), e.g. ${first?.field ?? "?"}: ${first?.reason ?? "?"}`)
              }
            }
            options.onBatch?.({ _tag: "Delivered", events, response: r })
            return yield* outbox.finish(events.length)
          }
          if (last._tag === "Refused") break
          if (attempt === maxAttempts) break
          if (last._tag === "RetryAfter") {
            c.retryAfter += 1
            yield* Effect.logDebug(`receiver answered ${last.status}; retrying after ${last.seconds}s as told`)
            yield* Effect.sleep(Duration.seconds(last.seconds))
          } else {
            c.transient += 1
            const delay = yield* backoff(attempt)
            yield* Effect.logDebug(`sending failed (${last.cause}); retry ${attempt} in ${Duration.format(delay)}`)
            yield* Effect.sleep(delay)
          }
        }
        const reason = last?._tag === "Refused"
          ? { reason: "refused" as const, detail: `receiver refused the batch (HTTP ${last.status} ${last.detail})` }
          : {
            reason: "gave_up" as const,
            detail: `no delivery after ${maxAttempts} attempts (last: ${
              last?._tag === "RetryAfter" ? `HTTP ${last.status}` : last?._tag === "Transient" ? last.cause : "?"
            })`
          }
        options.onBatch?.({ _tag: "Dropped", events, reason: reason.detail })
        yield* outbox.finish(events.length, reason)
      })

    yield* outbox.batches(options.maxBatchEvents ?? 500, options.maxBatchDelay ?? "200 millis").pipe(
      Stream.mapEffect(deliver, { concurrency: options.concurrency ?? 1 }),
      Stream.runDrain,
      Effect.forkScoped
    )

    // The telemetry window and the config block.
    const window = new Window()
    const windowStart = yield* Ref.make(yield* Clock.currentTimeMillis)
    const config = yield* Ref.make<ConfigJson | undefined>(options.config)
    const sentRevision = yield* Ref.make<string | undefined>(undefined)
    let packetSeq = 0
    const windowLock = yield* Effect.makeSemaphore(1)

    const closeWindow = windowLock.withPermits(1)(Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const start = yield* Ref.getAndSet(windowStart, now)
      const current = yield* Ref.get(config)
      const includeConfig = current !== undefined && current.revision !== (yield* Ref.get(sentRevision))
      const packet = window.close({
        gatewayId: options.gatewayId,
        packetId: `pkt-${idPrefix}-${++packetSeq}`,
        windowStart: new Date(start),
        windowSeconds: (now - start) / 1000,
        asset: options.telemetry?.asset ?? "USDC",
        ...(options.telemetry?.gatewayVersion === undefined ? {} : { gatewayVersion: options.telemetry.gatewayVersion }),
        ...(includeConfig ? { config: current } : {})
      })
      if (includeConfig) {
        yield* Ref.set(sentRevision, current.revision)
        c.configsSent += 1
      }
      c.packets += 1
      yield* send(yield* envelope("GatewayTelemetryPacket", packet))
      return packet
    }))

    yield* Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      if (now - (yield* Ref.get(windowStart)) >= windowSeconds * 1000) yield* closeWindow
    }).pipe(Effect.repeat(Schedule.spaced("1 second")), Effect.forkScoped)

    const flush = outbox.drained

    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        const unsent = yield* Ref.get(config).pipe(Effect.zipWith(Ref.get(sentRevision), (cfg, sent) => cfg !== undefined && cfg.revision !== sent))
        if (!window.isEmpty || unsent) yield* closeWindow
        // Finalizers run uninterruptibly: the wait must be made interruptible for the timeout to cut it.
        const done = yield* flush.pipe(Effect.interruptible, Effect.timeoutOption(options.shutdownTimeout ?? "30 seconds"))
        if (done._tag === "None") {
          // What is still buffered or in flight is lost with the process: counted as given up.
          const unsent = yield* outbox.pending
          yield* outbox.finish(unsent, { reason: "gave_up", detail: "still unsent when the shutdown timeout ran out" })
        }
      })
    )

    const client: GatewayClient = {
      send,
      emitIntent: (intent) =>
        Effect.gen(function*() {
          if (options.settlement !== undefined) {
            yield* options.settlement.submit(intent).pipe(
              Effect.tap(() => Effect.sync(() => void (c.settlementOk += 1))),
              Effect.catchAll((e) =>
                Effect.sync(() => void (c.settlementFailed += 1)).pipe(
                  Effect.zipRight(Effect.logWarning(`intent ${intent.intent_id}: ${e.message}`))
                )
              )
            )
          }
          return yield* send(yield* envelope("PaymentIntent", intent))
        }),
      recordRequest: (served) => Effect.sync(() => window.record(served)),
      setConfig: (next) =>
        Effect.gen(function*() {
          const previous = yield* Ref.getAndSet(config, next)
          // A new revision goes out at once, closing the current window early.
          if (previous?.revision !== next.revision) yield* closeWindow
        }),
      closeWindow,
      flush,
      stats: Effect.gen(function*() {
        const drops = yield* outbox.drops
        return {
          offered: c.offered,
          requests: c.requests,
          accepted: c.accepted,
          duplicate: c.duplicate,
          rejected: c.rejected,
          retries: { retryAfter: c.retryAfter, transient: c.transient },
          dropped: drops,
          settlement: { ok: c.settlementOk, failed: c.settlementFailed },
          packets: c.packets,
          configsSent: c.configsSent,
          buffered: yield* outbox.pending
        }
      })
    }
    return client
  })
