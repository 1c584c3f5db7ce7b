/**
 * The ingest stream on NATS JetStream (`INGEST_DURABILITY=jetstream`):
 *
 *   stream    `<NATS_INGEST_STREAM>`, subjects `<stream>.in.<route>.<gateway token>`, work-queue
 *             retention (a message is removed once a writer acknowledges it), file storage,
 *             NATS_INGEST_REPLICAS copies, bounded by NATS_INGEST_MAX_AGE / _MAX_BYTES with
 *             discard *new*: when full, publishes are refused (the receiver answers 503) rather
 *             than acknowledged events dropped
 *   consumer  one durable pull consumer (`NATS_INGEST_CONSUMER`) shared by every receiver's
 *             writers: explicit acks, NATS_INGEST_ACK_WAIT, unlimited deliveries (poison is
 *             terminated by the writer, never redelivered forever)
 *
 * The connection is the bus's (`NatsBus`, NATS_URL), one per process.
 */
import { Clock, Duration, Effect, Layer, Metric, Schedule, Stream } from "effect"
import { AckPolicy, DeliverPolicy, DiscardPolicy, type JsMsg, RetentionPolicy, StorageType, type StreamConfig } from "nats"
import { gatewayToken, NatsBus } from "../../realtime/nats/NatsBus.js"
import { addOrUpdateStream } from "../../realtime/nats/EnsureStream.js"
import { type Delivery, encodeMessages, IngestStream, IngestStreamUnavailable, MAX_MESSAGE_BYTES } from "./IngestStream.js"
import * as Metrics from "./Metrics.js"
import { type IngestStreamSettings, IngestStreamSettingsConfig } from "./StreamConfig.js"

const describe = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))
const nanos = (d: Duration.Duration) => Duration.toMillis(d) * 1_000_000
const decoder = new TextDecoder()

/** How long one pull waits for its first message (JetStream's minimum is 1 s). */
const PULL_EXPIRES_MS = 1000
/** A pull that has not ended this long after it should have is given up on (a lost server). */
const PULL_GUARD = Duration.millis(PULL_EXPIRES_MS + 4000)
const PUBLISH_TIMEOUT_MS = 5000

export const ingestStreamConfig = (s: IngestStreamSettings): Partial<StreamConfig> => ({
  name: s.stream,
  subjects: [`${s.stream}.in.>`],
  retention: RetentionPolicy.Workqueue,
  storage: StorageType.File,
  discard: DiscardPolicy.New,
  max_age: nanos(s.maxAge),
  max_bytes: s.maxBytes,
  num_replicas: s.replicas,
  duplicate_window: nanos(Duration.minutes(2))
})

export const makeIngestStream = (bus: NatsBus["Type"], s: IngestStreamSettings) =>
  Effect.gen(function*() {
    const retryStart = { schedule: Schedule.spaced("500 millis"), times: 60 }
    yield* Effect.tryPromise({
      try: () =>
        addOrUpdateStream(bus.jsm, s.stream, ingestStreamConfig(s), {
          max_age: nanos(s.maxAge),
          max_bytes: s.maxBytes,
          num_replicas: s.replicas
        }),
      catch: (cause) => new IngestStreamUnavailable({ message: `cannot create or update stream ${s.stream}: ${describe(cause)}` })
    }).pipe(Effect.retry(retryStart))
    yield* Effect.tryPromise({
      try: () =>
        bus.jsm.consumers.add(s.stream, {
          durable_name: s.consumer,
          ack_policy: AckPolicy.Explicit,
          deliver_policy: DeliverPolicy.All,
          ack_wait: nanos(s.ackWait),
          max_ack_pending: s.maxAckPending,
          max_deliver: -1,
          num_replicas: 0
        }),
      catch: (cause) => new IngestStreamUnavailable({ message: `cannot create consumer ${s.consumer} on ${s.stream}: ${describe(cause)}` })
    }).pipe(Effect.retry(retryStart))
    const consumer = yield* Effect.tryPromise({
      try: () => bus.js.consumers.get(s.stream, s.consumer),
      catch: (cause) => new IngestStreamUnavailable({ message: describe(cause) })
    }).pipe(Effect.retry(retryStart))

    const maxPayload = bus.nc.info?.max_payload ?? 1024 * 1024
    let publishError: string | undefined
    let pullError: string | undefined

    const delivery = (m: JsMsg): Delivery => ({
      seq: m.seq,
      deliveryCount: m.info.redeliveryCount,
      payload: decoder.decode(m.data),
      ack: Effect.tryPromise({
        try: () => m.ackAck({ timeout: PUBLISH_TIMEOUT_MS }),
        catch: (cause) => new IngestStreamUnavailable({ message: `ack not confirmed: ${describe(cause)}` })
      }).pipe(
        Effect.flatMap((confirmed) => (confirmed ? Effect.void : Effect.fail(new IngestStreamUnavailable({ message: "ack not confirmed" }))))
      ),
      // No reason on the wire: `+TERM <reason>` needs nats-server 2.10.4, and 2.9 takes it for
      // something else and redelivers (seen here); the reason is logged and dead-lettered instead.
      term: (reason) =>
        Effect.zipRight(
          Effect.sync(() => m.term()),
          Effect.logWarning("ingest stream message terminated").pipe(Effect.annotateLogs({ seq: m.seq, reason }))
        ),
      nak: (delay) => Effect.sync(() => m.nak(Duration.toMillis(delay)))
    })

    const maxRowBytes = Math.max(1024, maxPayload - 4096)
    const stream = IngestStream.of({
      maxRowBytes,
      append: (events) =>
        events.length === 0 ? Effect.void : Effect.gen(function*() {
          const started = yield* Clock.currentTimeMillis
          const messages = encodeMessages(events, Math.min(MAX_MESSAGE_BYTES, maxRowBytes))
          yield* Effect.tryPromise({
            try: () =>
              Promise.all(messages.map((m) =>
                bus.js.publish(`${s.stream}.in.${m.route}.${gatewayToken(m.gatewayId)}`, m.data, {
                  msgID: m.msgID,
                  timeout: PUBLISH_TIMEOUT_MS
                })
              )),
            catch: (cause) => new IngestStreamUnavailable({ message: describe(cause) })
          }).pipe(
            // A short retry rides out a leader election; beyond it the sender is told 503 and
            // retries (the same Nats-Msg-Id within 2 minutes is stored once).
            Effect.retry({ schedule: Schedule.exponential("100 millis"), times: 3 }),
            Effect.tapBoth({
              onFailure: (error) =>
                Effect.sync(() => void (publishError = error.message)).pipe(Effect.zipRight(Metric.increment(Metrics.publishFailures))),
              onSuccess: () =>
                Effect.gen(function*() {
                  publishError = undefined
                  const now = yield* Clock.currentTimeMillis
                  yield* Metric.update(Metrics.publishSeconds, Math.max(0, now - started) / 1000)
                  yield* Metric.incrementBy(Metrics.published, events.length)
                })
            })
          )
        }),
      pull: (max) =>
        Stream.unwrapScoped(
          Effect.acquireRelease(
            Effect.tryPromise({
              try: () => consumer.fetch({ max_messages: max, expires: PULL_EXPIRES_MS }),
              catch: (cause) => new IngestStreamUnavailable({ message: `pull failed: ${describe(cause)}` })
            }),
            (messages) => Effect.sync(() => messages.stop())
          ).pipe(
            Effect.map((messages) =>
              Stream.fromAsyncIterable(messages, (cause) => new IngestStreamUnavailable({ message: `pull failed: ${describe(cause)}` })).pipe(
                Stream.map(delivery)
              )
            )
          )
        ).pipe(
          // Ends a pull that outlives its expiry (its server went away without a word).
          Stream.timeout(PULL_GUARD),
          Stream.tapError((error) => Effect.sync(() => void (pullError = error.message))),
          Stream.onEnd(Effect.sync(() => void (pullError = undefined)))
        ),
      problem: Effect.sync(() =>
        bus.nc.isClosed()
          ? "NATS connection closed"
          : publishError !== undefined
          ? `cannot store events in JetStream: ${publishError}`
          : pullError !== undefined
          ? `cannot pull from the ingest stream: ${pullError}`
          : undefined
      )
    })

    // Backlog for /metrics, every 5 s.
    yield* Effect.tryPromise(async () => {
      const [info, stream] = await Promise.all([consumer.info(true), bus.jsm.streams.info(s.stream)])
      return { info, stream }
    }).pipe(
      Effect.flatMap(({ info, stream }) =>
        Effect.all([
          Metric.set(Metrics.consumerPending, info.num_pending),
          Metric.set(Metrics.consumerAckPending, info.num_ack_pending),
          Metric.set(Metrics.streamBytes, stream.state.bytes)
        ])
      ),
      Effect.timeout("4 seconds"),
      Effect.ignore,
      Effect.repeat(Schedule.spaced("5 seconds")),
      Effect.forkScoped
    )
    return stream
  })

export const IngestStreamLive = Layer.scoped(
  IngestStream,
  Effect.gen(function*() {
    const bus = yield* NatsBus
    const settings = yield* IngestStreamSettingsConfig
    return yield* makeIngestStream(bus, settings)
  })
).pipe(Layer.provide(NatsBus.Live))
