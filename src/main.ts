/**
 * The composition root and the only place effects are run.
 *
 *   npm start                  serve (roles from ROLES, default all); runs the dist/ bundle
 *   tsx src/main.ts            the same, straight from the sources (`npm run dev`)
 *   tsx src/main.ts migrate    apply migrations and exit
 *   tsx src/main.ts cli …      entity administration (see `npm run cli -- help`)
 */
import { NodeRuntime } from "@effect/platform-node"
import { ConfigError, Effect, Layer } from "effect"
import { AppSettingsService, describeConfigError } from "./config/AppConfig.js"
import { CliLoggingLive, LoggingLive } from "./config/Logging.js"
import { StartupConfig } from "./Startup.js"
import { AdminCliLive, type CliError, type CliRequirements, formatCliError, runCli } from "./admin/Cli.js"
import { DatabaseLive, DatabaseLocationForCommand, DatabasePoolLive, type PgPool } from "./db/Database.js"
import type { EmbeddedPostgresError } from "./db/EmbeddedPostgres.js"
import { migrate } from "./db/Migrator.js"
import { HealthChecks } from "./health/HealthChecks.js"
import { HttpAppLive, listen } from "./http/Server.js"
import { runJobsCli } from "./jobs/Cli.js"
import { JobRunnerLive } from "./jobs/Jobs.js"
import { JobsLive } from "./jobs/Scheduler.js"
import { PrometheusLive } from "./observability/Prometheus.js"
import { RuntimeMetricsLive } from "./observability/Runtime.js"
import { TracingLive } from "./observability/Tracing.js"
import { RealtimeLive } from "./realtime/Realtime.js"

/** The worker role: scheduled rollup, partitions, retention and archive (docs/jobs.md). */
const WorkerLive = Layer.unwrapEffect(
  Effect.map(AppSettingsService, (settings) => (settings.roles.has("worker") ? JobsLive : Layer.empty))
)

const ServeLive = Layer.mergeAll(HttpAppLive, WorkerLive, RuntimeMetricsLive).pipe(
  Layer.provide(listen),
  Layer.provide(RealtimeLive),
  Layer.provide(PrometheusLive),
  // OTLP trace export only when OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT is set (docs/tracing.md).
  Layer.provide(TracingLive),
  Layer.provide(DatabaseLive),
  Layer.provide(HealthChecks.Live),
  Layer.provide(AppSettingsService.Live)
)

/**
 * One-shot commands get the database (embedded or DATABASE_URL) for their duration; beside a
 * running server they use its embedded PostgreSQL and leave it running.
 */
const OneShotDatabase = DatabasePoolLive.pipe(Layer.provide(DatabaseLocationForCommand), Layer.provideMerge(AppSettingsService.Live))

/** The embedded PostgreSQL is not there for a one-shot command: its reason and remedy, one line on stderr. */
const embeddedFailed = (error: EmbeddedPostgresError) =>
  Effect.sync(() => {
    process.stderr.write(`${error.message}\n`)
    process.exitCode = 1
  })

const MigrateOnce = migrate().pipe(
  Effect.tap((applied) => Effect.logInfo("migrations applied").pipe(Effect.annotateLogs({ applied: applied.map((m) => m.name) }))),
  Effect.provide(OneShotDatabase),
  Effect.catchTag("EmbeddedPostgresError", embeddedFailed),
  Effect.scoped
)

const adminCommand = (args: ReadonlyArray<string>): Effect.Effect<void, CliError | ConfigError.ConfigError, CliRequirements | PgPool> =>
  args[0] === "jobs" ? runJobsCli(args.slice(1)).pipe(Effect.provide(JobRunnerLive)) : runCli(args)

const Cli = (args: ReadonlyArray<string>) =>
  migrate().pipe(
    Effect.zipRight(adminCommand(args)),
    Effect.catchTag("CliError", (error) =>
      Effect.sync(() => {
        process.stderr.write(`${formatCliError(error)}\n`)
        process.exitCode = 2
      })),
    Effect.provide(AdminCliLive),
    Effect.provide(OneShotDatabase),
    Effect.catchTag("EmbeddedPostgresError", embeddedFailed),
    Effect.scoped
  )

const [command = "serve", ...args] = process.argv.slice(2)

const program: Effect.Effect<unknown, unknown> = command === "migrate"
  ? MigrateOnce
  : command === "cli"
  ? Cli(args)
  : command === "serve"
  ? Effect.zipRight(StartupConfig, Layer.launch(ServeLive))
  : Effect.fail(new Error(`unknown command "${command}"; expected serve, migrate or cli`))

const main = program.pipe(
  Effect.catchIf(ConfigError.isConfigError, (error) =>
    Effect.sync(() => {
      process.stderr.write(`${describeConfigError(error)}\n`)
      process.exitCode = 1
    })),
  // The CLI prints results on stdout; its logs go to stderr so output stays pipeable.
  Effect.provide(command === "cli" ? CliLoggingLive : LoggingLive)
)

NodeRuntime.runMain(main, { disablePrettyLogger: true })
