/**
 * The database layer: one `pg.Pool` under `@effect/sql` (built with `PgClient.layerFromPool`, so
 * the pool stays ours to size, watch and close). The pool connects lazily, so the HTTP server can
 * start and report a database outage on `/health` instead of crash-looping.
 */
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Cause, Context, Deferred, Duration, Effect, Layer, Option, Redacted, Ref, Schedule } from "effect"
import pg from "pg"
import { AppSettingsService } from "../config/AppConfig.js"
import { DatabaseSettingsConfig } from "./DatabaseConfig.js"
import { DEFAULT_DATABASE, startEmbedded } from "./EmbeddedPostgres.js"
import type { OwnerRole } from "./embedded/postgresProcess.js"
import { migrate } from "./Migrator.js"

export class PgPool extends Context.Tag("Db/PgPool")<PgPool, pg.Pool>() {}

/**
 * Where the database is; `embedded` tells operators it lives inside this process.
 * `unavailable` says why an embedded PostgreSQL could not start (the server still serves,
 * degraded, and `/health` shows the reason).
 */
export class DatabaseLocation extends Context.Tag("Db/Location")<DatabaseLocation, {
  readonly url: Redacted.Redacted<string>
  readonly embedded: boolean
  readonly unavailable: Option.Option<string>
}>() {}

const embeddedLocation = (role: OwnerRole) =>
  Layer.scoped(
    DatabaseLocation,
    Effect.gen(function*() {
      const settings = yield* DatabaseSettingsConfig
      if (Option.isSome(settings.url)) return { url: settings.url.value, embedded: false, unavailable: Option.none() }
      const app = yield* AppSettingsService
      const url = yield* startEmbedded({
        dataDir: app.dataDir,
        port: settings.embeddedPort,
        role,
        runtimeDir: settings.embeddedRuntimeDir
      })
      return { url: Redacted.make(url), embedded: true, unavailable: Option.none() }
    })
  )

/**
 * For the server. When its embedded PostgreSQL cannot start it says why once and serves
 * degraded (ingest still journals); another live server on the same DATA_DIR stops it instead.
 */
export const DatabaseLocationLive = Layer.catchAll(
  embeddedLocation("server"),
  (error) =>
    error._tag === "EmbeddedPostgresError" && !error.inUse
      ? Layer.effect(
        DatabaseLocation,
        Effect.gen(function*() {
          const settings = yield* DatabaseSettingsConfig
          yield* Effect.logError(error.message)
          return {
            url: Redacted.make(`postgres://postgres@127.0.0.1:${settings.embeddedPort}/${DEFAULT_DATABASE}`),
            embedded: true,
            unavailable: Option.some(error.message)
          }
        })
      )
      : Layer.fail(error)
)

/** For one-shot commands (CLI, migrate): the running server's embedded PostgreSQL if there is one. */
export const DatabaseLocationForCommand = embeddedLocation("command")

/**
 * A client handed back while its query is still running was interrupted (a write timeout, a
 * request gone away): its connection may be hung, and the next query on it would wait behind
 * the lost one. `end()` marks it ending, so the pool removes it, and destroys the socket
 * (node-postgres does so when a query is active).
 */
const dropIfBusy = (error: unknown, client: pg.PoolClient): void => {
  const busy = client as pg.PoolClient & { readonly _getActiveQuery?: () => unknown }
  if (error === undefined && busy._getActiveQuery?.() != null) void client.end().catch(() => undefined)
}

const poolLayer = Layer.scoped(
  PgPool,
  Effect.gen(function*() {
    const settings = yield* DatabaseSettingsConfig
    const location = yield* DatabaseLocation
    return yield* Effect.acquireRelease(
      Effect.sync(() => {
        const pool = new pg.Pool({
          connectionString: Redacted.value(location.url),
          max: settings.poolMax,
          connectionTimeoutMillis: settings.connectTimeoutMs,
          idleTimeoutMillis: settings.poolIdleTimeoutMs,
          application_name: "machpay-telemetry"
        })
        // An idle client dies when the server restarts; the next checkout reconnects.
        pool.on("error", () => undefined)
        pool.on("release", dropIfBusy)
        return pool
      }),
      (pool) => Effect.promise(() => pool.end()).pipe(Effect.interruptible, Effect.timeoutOption("5 seconds"))
    )
  })
)

const clientLayer = Layer.unwrapEffect(
  Effect.map(PgPool, (pool) => PgClient.layerFromPool({ acquire: Effect.succeed(pool), applicationName: "machpay-telemetry" }))
)

/** `PgPool` + `SqlClient` + `PgClient` for a pool on the given location. */
export const DatabasePoolLive = clientLayer.pipe(Layer.provideMerge(poolLayer))

export type DatabaseState =
  | { readonly _tag: "Starting" }
  | { readonly _tag: "Ready"; readonly migrationsApplied: number }
  | { readonly _tag: "Unavailable"; readonly reason: string; readonly since: Date }

/**
 * Connects and migrates in the background, retrying with backoff while the database is
 * unreachable. Features that write wait on `ready`; `/health` reads `state`.
 */
export class DatabaseStatus extends Context.Tag("Db/Status")<DatabaseStatus, {
  readonly state: Effect.Effect<DatabaseState>
  readonly ready: Effect.Effect<void>
  /** Live probe, bounded in time: is the server answering right now? */
  readonly ping: Effect.Effect<boolean>
}>() {}

/** "PgClient: Failed to connect: connect ECONNREFUSED 127.0.0.1:5432" — the chain of messages. */
const describe = (error: unknown): string => {
  if (!(error instanceof Error)) return String(error)
  const inner = error.cause === undefined ? "" : `: ${describe(error.cause)}`
  return `${error.message}${inner}`
}

export const DatabaseStatusLive = Layer.scoped(
  DatabaseStatus,
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const location = yield* DatabaseLocation
    const state = yield* Ref.make<DatabaseState>({ _tag: "Starting" })
    const ready = yield* Deferred.make<void>()
    const attempt = migrate().pipe(
      Effect.tap((applied) =>
        Effect.all([
          Ref.set(state, { _tag: "Ready", migrationsApplied: applied.length }),
          Deferred.succeed(ready, undefined),
          Effect.logInfo("database ready").pipe(Effect.annotateLogs({ migrationsApplied: applied.map((m) => m.name) }))
        ])
      ),
      Effect.tapErrorCause((cause) =>
        Effect.gen(function*() {
          const reason = describe(Cause.squash(cause))
          yield* Ref.update(state, (s): DatabaseState => ({
            _tag: "Unavailable",
            reason,
            since: s._tag === "Unavailable" ? s.since : new Date()
          }))
          yield* Effect.logWarning("database unavailable at start-up; retrying").pipe(Effect.annotateLogs({ reason }))
        })
      )
    )
    if (Option.isSome(location.unavailable)) {
      // The embedded server did not start; nothing will answer until an operator acts, and
      // the reason was logged once already.
      yield* Ref.set(state, { _tag: "Unavailable", reason: location.unavailable.value, since: new Date() })
    } else {
      yield* attempt.pipe(
        Effect.retry(Schedule.exponential("200 millis", 2).pipe(Schedule.either(Schedule.spaced("10 seconds")))),
        Effect.forkScoped
      )
    }
    const ping = sql`SELECT 1`.pipe(
      Effect.timeout(Duration.seconds(2)),
      Effect.as(true),
      Effect.catchAllCause(() => Effect.succeed(false))
    )
    return { state: Ref.get(state), ready: Deferred.await(ready), ping }
  })
)

/** Everything the features need from the database, for a process. */
export const DatabaseLive = DatabaseStatusLive.pipe(
  Layer.provideMerge(DatabasePoolLive),
  Layer.provideMerge(DatabaseLocationLive)
)
