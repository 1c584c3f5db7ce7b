/**
 * The receiver feature: HTTP handler + pipeline + PostgreSQL store + dead letters, and with
 * `INGEST_DURABILITY=jetstream` the JetStream ingest stream (stream/).
 * Needs `CommittedEvents` (where committed batches are published) from the root.
 */
import { Effect, Layer } from "effect"
import { JournalFromConfig } from "../journal/JournalConfig.js"
import { DeadLettersLive } from "./DeadLetters.js"
import { EventStorePg } from "./EventStorePg.js"
import { GatewayDirectory } from "./GatewayAuth.js"
import { IngestHttpLive } from "./Http.js"
import { IngestSettingsConfig } from "./IngestConfig.js"
import { IngestPipelineLive } from "./Pipeline.js"
import { IngestStreamLive } from "./stream/IngestStreamLive.js"

/** The ingest stream, only when acknowledged events are kept in JetStream. */
const IngestStreamForDurability = Layer.unwrapEffect(
  Effect.map(IngestSettingsConfig, ({ durability }) => (durability === "jetstream" ? IngestStreamLive : Layer.empty))
)

export const IngestServicesLive = IngestPipelineLive.pipe(
  Layer.provide(JournalFromConfig),
  Layer.provide(IngestStreamForDurability),
  Layer.provideMerge(DeadLettersLive),
  Layer.provideMerge(EventStorePg)
)

export const IngestHttpFeature = IngestHttpLive.pipe(
  Layer.provide(IngestServicesLive),
  Layer.provide(GatewayDirectory.Live)
)
