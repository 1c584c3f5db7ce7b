/**
 * The zero-set-up default: with no `DATABASE_URL`, a real PostgreSQL runs from
 * `DATA_DIR/postgres` for the lifetime of the server (persisted across restarts; a server
 * orphaned by a killed run is stopped and replaced). One-shot commands (CLI, migrate) use the
 * running server's PostgreSQL when there is one. See docs/embedded-postgres.md.
 *
 * A real PostgreSQL process on purpose: PGlite (WASM) was tried as the embedded default and
 * measured unfit — over its socket it serialised transactions across connections, LISTEN/NOTIFY
 * did not cross connections, COPY killed the instance, and it grew to 1.4 GB RSS.
 */
import { Data, Effect } from "effect"
import pg from "pg"
import * as path from "node:path"
import { EmbeddedInUseError, type OwnerRole, startServer } from "./embedded/postgresProcess.js"

export const DEFAULT_DATABASE = "machpay"

/** Why the embedded PostgreSQL is not there, in words, with what to do about it (`message`). */
export class EmbeddedPostgresError extends Data.TaggedError("EmbeddedPostgresError")<{
  readonly message: string
  /** Another live server owns this DATA_DIR's PostgreSQL: nothing to retry, nothing to degrade to. */
  readonly inUse: boolean
}> {}

const firstLine = (text: string) => (text.split("\n").find((line) => line.trim().length > 0) ?? text).trim().slice(0, 400)

const WAYS_OUT = "set DATABASE_URL to a PostgreSQL you run, or choose a DATA_DIR this process can write, or run as a non-root user"

/** Turns what the start-up threw into one sentence an operator can act on. */
export const explain = (error: unknown, dataDir: string, port: number): EmbeddedPostgresError => {
  if (error instanceof EmbeddedInUseError) return new EmbeddedPostgresError({ message: error.message, inUse: true })
  const detail = firstLine(error instanceof Error ? error.message : String(error))
  const why = /could not bind|address already in use/i.test(detail)
    ? `port ${port} is taken by another program; set EMBEDDED_PG_PORT to a free port, or ${WAYS_OUT}`
    : /EACCES|EPERM|permission denied|operation not permitted/i.test(detail)
    ? `permission denied (as root PostgreSQL runs as the OS user "postgres", which must reach its binaries ` +
      `and data; see EMBEDDED_PG_RUNTIME_DIR); ${WAYS_OUT}`
    : /ENOSPC|no space left/i.test(detail)
    ? `the disk is full; free space, or ${WAYS_OUT}`
    : WAYS_OUT
  return new EmbeddedPostgresError({
    message: `embedded PostgreSQL could not start in ${dataDir}: ${detail}. To fix: ${why}`,
    inUse: false
  })
}

const ensureDatabase = (adminUrl: string, name: string) =>
  Effect.tryPromise({
    try: async () => {
      const client = new pg.Client({ connectionString: adminUrl })
      await client.connect()
      try {
        const found = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name])
        if (found.rowCount === 0) {
          // A command attached to a server that is creating it too: whoever loses the race
          // finds it made (42P04 duplicate_database, or 23505 on the catalog's unique index).
          await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`).catch((error: { code?: string }) => {
            if (error.code !== "42P04" && error.code !== "23505") throw error
          })
        }
      } finally {
        await client.end()
      }
    },
    catch: (cause) => new Error(`could not create database ${name}: ${String(cause)}`)
  })

export interface EmbeddedOptions {
  readonly dataDir: string
  readonly port: number
  readonly role: OwnerRole
  readonly runtimeDir: string
}

/**
 * Starts the embedded server in the current scope (or, for a command, connects to the running
 * server's) and yields the URL of the app database.
 */
export const startEmbedded = (options: EmbeddedOptions) =>
  Effect.gen(function*() {
    const dir = path.join(options.dataDir, "postgres")
    const server = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => startServer({ dataDir: dir, port: options.port, role: options.role, runtimeDir: options.runtimeDir }),
        catch: (cause) => explain(cause, dir, options.port)
      }),
      (server) =>
        server.attached ? Effect.void : Effect.promise(() => server.stop()).pipe(
          Effect.tap(() => Effect.logInfo("embedded PostgreSQL stopped").pipe(Effect.annotateLogs({ dataDir: server.dataDir })))
        )
    )
    if (server.recoveredPid !== undefined) {
      yield* Effect.logWarning("stopped a stale embedded PostgreSQL left by a killed run").pipe(
        Effect.annotateLogs({ pid: server.recoveredPid })
      )
    }
    if (server.binariesCopiedTo !== undefined) {
      yield* Effect.logInfo("copied the PostgreSQL binaries where the postgres OS user can run them").pipe(
        Effect.annotateLogs({ binaries: server.binariesCopiedTo })
      )
    }
    yield* ensureDatabase(server.url, DEFAULT_DATABASE).pipe(Effect.mapError((cause) => explain(cause, dir, server.port)))
    yield* Effect.logInfo(server.attached ? "using the embedded PostgreSQL of the running server" : "embedded PostgreSQL running").pipe(
      Effect.annotateLogs({
        dataDir: server.dataDir,
        port: server.port,
        database: DEFAULT_DATABASE,
        initialised: server.initialised,
        ...(server.attached ? { ownerPid: server.ownerPid } : {})
      })
    )
    return `postgres://postgres@127.0.0.1:${server.port}/${DEFAULT_DATABASE}`
  })
