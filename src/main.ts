/**
 * The composition root and the only place effects are run.
 *
 *   tsx src/main.ts            serve (roles from ROLES, default all)
 *   tsx src/main.ts migrate    apply migrations and exit
 *   tsx src/main.ts cli …      entity administration (see `npm run cli -- help`)
 */
import { NodeRuntime } from "@effect/platform-node"
import { ConfigError, Effect, Layer } from "effect"
import { AppSettingsService, describeConfigError } from "./config/AppConfig.js"
import { LoggingLive } from "./config/Logging.js"
import { DatabaseLive, DatabaseLocationLive, DatabasePoolLive } from "./db/Database.js"
import { migrate } from "./db/Migrator.js"
import { HealthChecks } from "./health/HealthChecks.js"
import { HttpAppLive, listen } from "./http/Server.js"
import { CommittedEvents } from "./ingest/Pipeline.js"

const ServeLive = HttpAppLive.pipe(
  Layer.provide(listen),
  Layer.provide(CommittedEvents.None),
  Layer.provide(DatabaseLive),
  Layer.provide(HealthChecks.layer),
  Layer.provide(AppSettingsService.layer)
)

const MigrateOnce = migrate().pipe(
  Effect.tap((applied) => Effect.logInfo("migrations applied").pipe(Effect.annotateLogs({ applied: applied.map((m) => m.name) }))),
  Effect.provide(DatabasePoolLive.pipe(Layer.provide(DatabaseLocationLive), Layer.provide(AppSettingsService.layer))),
  Effect.scoped
)

const [command = "serve"] = process.argv.slice(2)

const program: Effect.Effect<unknown, unknown> = command === "migrate"
  ? MigrateOnce
  : command === "serve"
  ? Layer.launch(ServeLive)
  : Effect.fail(new Error(`unknown command "${command}"; expected serve, migrate or cli`))

program.pipe(
  Effect.catchIf(ConfigError.isConfigError, (error) =>
    Effect.sync(() => {
      process.stderr.write(`${describeConfigError(error)}\n`)
      process.exitCode = 1
    })),
  Effect.provide(LoggingLive),
  NodeRuntime.runMain
)
