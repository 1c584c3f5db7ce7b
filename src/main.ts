/**
 * The composition root and the only place effects are run.
 *
 *   npm start                  serve (roles from ROLES, default all); runs the dist/ bundle
 *   tsx src/main.ts [serve]    the same, straight from the sources (`npm run dev`)
 *   tsx src/main.ts migrate    apply migrations and exit
 *   tsx src/main.ts cli …      entity administration and `jobs run` (see `npm run cli -- --help`)
 *
 * One command tree on `@effect/cli` (`--help` at every level); `cli …` is `src/admin/CliCommand.ts`.
 */
import { Command as Cli, ValidationError } from "@effect/cli"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { ConfigError, Effect, Either, Layer } from "effect"
import { AppSettingsService, describeConfigError, type Role } from "./config/AppConfig.js"
import { CliLoggingLive, LoggingLive } from "./config/Logging.js"
import { StartupConfig } from "./Startup.js"
import { adminArgv, adminCommand, AdminCliLive, CLI_APP, type CliError, type CliRequirements, type Command, formatCliError, runAdmin } from "./admin/Cli.js"
import { DatabaseLive, DatabaseLocationForCommand, DatabasePoolLive, type PgPool } from "./db/Database.js"
import type { EmbeddedPostgresError } from "./db/EmbeddedPostgres.js"
import { migrate } from "./db/Migrator.js"
import { HealthChecks } from "./health/HealthChecks.js"
import { ConsoleHttpLive } from "./console/Console.js"
import { HealthMetricsLive } from "./health/HealthMetrics.js"
import { HealthHttpLive } from "./health/Http.js"
import { Api, ConsoleApi, OperationsApi, ReceiverApi } from "./http/Api.js"
import { HttpAppLive, listen } from "./http/Server.js"
import { IngestHttpFeature } from "./ingest/Ingest.js"
import { ObservabilityHttpLive } from "./observability/Http.js"
import { runJobsCli } from "./jobs/Cli.js"
import { JobRunnerLive } from "./jobs/Jobs.js"
import { JobsLive } from "./jobs/Scheduler.js"
import { PrometheusLive } from "./observability/Prometheus.js"
import { RuntimeMetricsLive } from "./observability/Runtime.js"
import { TracingLive } from "./observability/Tracing.js"
import { RealtimeHttpFeature, RealtimeLive } from "./realtime/Realtime.js"

/** A layer chosen once, from the process's roles. */
const withRoles = <A, E, R>(choose: (roles: Readonly<Record<Role, boolean>>) => Layer.Layer<A, E, R>) =>
  Layer.unwrapEffect(Effect.map(AppSettingsService, ({ roles }) =>
    choose({ receiver: roles.has("receiver"), api: roles.has("api"), worker: roles.has("worker") })))

/**
 * The system by role (ROLES, default all three; docs/deployment in the README):
 *
 *   receiver  POST /v1/ingest/events: admission, journal, per-route writers (src/ingest/)
 *   api       the live stream (src/realtime/) and the vendor, agent and admin consoles (src/console/)
 *   worker    scheduled rollup, partitions, retention and archive (src/jobs/)
 *   every     health, readiness, /metrics; the realtime hub and its cross-process bridge
 *
 * A process builds only its roles' layers: an api or worker process opens no journal, a
 * worker serves no feature routes. (The router's role gate still answers their paths 404.)
 */
const HttpApiForRoles = withRoles(({ api, receiver }) => {
  const operations = Layer.merge(HealthHttpLive, ObservabilityHttpLive)
  const consoles = Layer.merge(ConsoleHttpLive, RealtimeHttpFeature)
  return receiver && api
    ? HttpApiBuilder.api(Api).pipe(Layer.provide(operations), Layer.provide(IngestHttpFeature), Layer.provide(consoles))
    : receiver
    ? HttpApiBuilder.api(ReceiverApi).pipe(Layer.provide(operations), Layer.provide(IngestHttpFeature))
    : api
    ? HttpApiBuilder.api(ConsoleApi).pipe(Layer.provide(operations), Layer.provide(consoles))
    : HttpApiBuilder.api(OperationsApi).pipe(Layer.provide(operations))
})

const WorkerLive = withRoles(({ worker }) => (worker ? JobsLive : Layer.empty))

const ServeLive = Layer.mergeAll(
  HttpAppLive.pipe(Layer.provide(HttpApiForRoles)),
  WorkerLive,
  RuntimeMetricsLive,
  HealthMetricsLive
).pipe(
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

const runParsed = (command: Command): Effect.Effect<void, CliError | ConfigError.ConfigError, CliRequirements | PgPool> =>
  command._tag === "JobRun" ? Effect.asVoid(runJobsCli(command).pipe(Effect.provide(JobRunnerLive))) : runAdmin(command)

/** One parsed `cli …` command: migrations first (as before every CLI run), then the command. */
const Admin = (command: Command) =>
  migrate().pipe(
    Effect.zipRight(runParsed(command)),
    Effect.provide(AdminCliLive),
    Effect.provide(OneShotDatabase),
    Effect.catchTag("EmbeddedPostgresError", embeddedFailed),
    Effect.scoped,
    // The CLI prints results on stdout; its logs go to stderr so output stays pipeable.
    Effect.provide(CliLoggingLive)
  )

const Serve = Effect.zipRight(StartupConfig, Layer.launch(ServeLive)).pipe(Effect.provide(LoggingLive))

const Commands = Cli.make("machpay-telemetry", {}, () => Serve).pipe(
  Cli.withDescription("receives gateway events, streams them, serves the console API; with no command: serve"),
  Cli.withSubcommands([
    Cli.make("serve", {}, () => Serve).pipe(Cli.withDescription("serve (roles from ROLES, default all)")),
    Cli.make("migrate", {}, () => MigrateOnce.pipe(Effect.provide(LoggingLive))).pipe(
      Cli.withDescription("apply migrations and exit")
    ),
    adminCommand(Admin)
  ])
)

const [, , command, ...rest] = process.argv
const argv = command === "cli" ? Either.map(adminArgv(rest), (args) => [...process.argv.slice(0, 3), ...args]) : Either.right(process.argv)

const main = Effect.flatMap(argv, Cli.run(Commands, CLI_APP)).pipe(
  // What a user of the CLI got wrong (an entity, a secret, options that do not go together): one line + hint.
  Effect.catchTag("CliError", (error) =>
    Effect.sync(() => {
      process.stderr.write(`${formatCliError(error)}\n`)
      process.exitCode = 2
    })),
  // `@effect/cli` has printed what is wrong with the command line; status 2 for the CLI's usage
  // errors (as always), 1 for an unknown top-level command.
  Effect.catchIf(ValidationError.isValidationError, () =>
    Effect.sync(() => {
      process.exitCode = command === "cli" ? 2 : 1
    })),
  Effect.catchIf(ConfigError.isConfigError, (error) =>
    Effect.sync(() => {
      process.stderr.write(`${describeConfigError(error)}\n`)
      process.exitCode = 1
    })),
  Effect.provide(NodeContext.layer)
)

NodeRuntime.runMain(main, { disablePrettyLogger: true })
