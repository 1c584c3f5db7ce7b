/**
 * The receiver feature: HTTP handler + pipeline + PostgreSQL store + dead letters.
 * Needs `CommittedEvents` (where committed batches are published) from the root.
 * A process without the receiver role builds none of it (no journal is opened): its ingest
 * route is refused by the role gate before any handler runs.
 */
import { HttpApiBuilder, HttpServerResponse } from "@effect/platform"
import { Effect, Layer } from "effect"
import { AppSettingsService } from "../config/AppConfig.js"
import { Api } from "../http/Api.js"
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

/** The ingest group of a process without the receiver role (the role gate answers first). */
const IngestHttpDisabled = HttpApiBuilder.group(Api, "ingest", (handlers) =>
  handlers.handleRaw("ingest", () =>
    Effect.succeed(HttpServerResponse.unsafeJson(
      { error: "role_disabled", message: "this process does not run the receiver role (ROLES)" },
      { status: 404 }
    ))))

/** The receiver feature when `ROLES` includes `receiver`; otherwise nothing of it is built. */
export const IngestHttpForRoles = Layer.unwrapEffect(
  Effect.map(AppSettingsService, (settings) => (settings.roles.has("receiver") ? IngestHttpFeature : IngestHttpDisabled))
)
