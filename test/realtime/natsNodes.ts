/**
 * In-process "nodes" of the NATS bus for tests: each its own connection, hub, publisher and
 * consumer (what one server process builds with REALTIME_BUS=nats).
 */
import { Duration, Effect, Layer } from "effect"
import * as os from "node:os"
import { AppSettingsService } from "../../src/config/AppConfig.js"
import { HealthChecks } from "../../src/health/HealthChecks.js"
import type { IngestEvent } from "../../src/ingest/IngestEvent.js"
import { CommittedEvents } from "../../src/ingest/PipelineService.js"
import { RealtimeHub, type Sink } from "../../src/realtime/Hub.js"
import { NatsBus } from "../../src/realtime/nats/NatsBus.js"
import type { NatsSettings } from "../../src/realtime/nats/NatsConfig.js"
import { NatsCommittedEventsLive, NatsFeedLive, NatsHubLive } from "../../src/realtime/nats/NatsFeed.js"
import type { LiveEventInput } from "../../src/realtime/Topics.js"
import { payment as livePayment } from "./events.js"
import { type SseMessage, SseParser } from "./sse.js"

export const settings = (url: string, overrides: Partial<NatsSettings> = {}): NatsSettings => ({
  servers: [url],
  stream: "TEST_LIVE",
  maxAge: Duration.minutes(10),
  maxBytes: 64 * 1024 * 1024,
  replicas: 1,
  kvPrefix: "test",
  slotLease: Duration.seconds(5),
  replayMaxMessages: 100_000,
  ...overrides
})

export const appSettings = Layer.succeed(AppSettingsService, {
  host: "127.0.0.1",
  port: 0,
  roles: new Set(["api", "receiver"] as const),
  dataDir: os.tmpdir(),
  version: "test",
  requestTimeout: Duration.seconds(60)
})

/** One "node": its own NATS connection, hub, publisher and consumer. */
export const node = (s: NatsSettings) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(
      Layer.mergeAll(NatsCommittedEventsLive, NatsFeedLive).pipe(
        Layer.provideMerge(NatsHubLive),
        Layer.provideMerge(NatsBus.layer(s)),
        Layer.provide(Layer.merge(appSettings, HealthChecks.Live))
      )
    )
    return {
      hub: yield* Effect.provide(RealtimeHub, context),
      committed: yield* Effect.provide(CommittedEvents, context),
      bus: yield* Effect.provide(NatsBus, context)
    }
  })

/** What the receiver hands over after a commit. */
export const payment = (gateway: string, agent: string, id: string): IngestEvent => {
  const e: LiveEventInput = livePayment(gateway, agent, id)
  return { ...e, subject: e.subject, timeMs: Date.parse(e.time), receivedAt: Date.now(), attributes: {}, known: undefined }
}

export const stream = () => {
  const parser = new SseParser()
  const messages: Array<SseMessage> = []
  const sink: Sink = { write: (out) => (messages.push(...parser.push(out.text)), true), drop: () => undefined }
  return { messages, sink }
}

export const until = (check: () => boolean, what: string, times = 500) =>
  Effect.sleep("20 millis").pipe(
    Effect.repeat({ until: check, times }),
    Effect.flatMap(() => (check() ? Effect.void : Effect.die(new Error(`timed out waiting for ${what}`))))
  )

export const ids = (messages: ReadonlyArray<SseMessage>) => messages.map((m) => JSON.parse(m.data)["id"] as string)

