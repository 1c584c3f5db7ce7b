/**
 * The receiver feature: HTTP handler + pipeline + PostgreSQL store + dead letters.
 * Needs `CommittedEvents` (where committed batches are published) from the root.
 */
import { Layer } from "effect"
import { JournalFromConfig } from "../journal/JournalConfig.js"
import { DeadLettersLive } from "./DeadLetters.js"
import { EventStorePg } from "./EventStorePg.js"
import { GatewayDirectory } from "./GatewayAuth.js"
import { IngestHttpLive } from "./Http.js"
import { IngestPipelineLive } from "./Pipeline.js"

export const IngestServicesLive = IngestPipelineLive.pipe(
  Layer.provide(JournalFromConfig),
  Layer.provideMerge(DeadLettersLive),
  Layer.provideMerge(EventStorePg)
)

export const IngestHttpFeature = IngestHttpLive.pipe(
  Layer.provide(IngestServicesLive),
  Layer.provide(GatewayDirectory.Live)
)
