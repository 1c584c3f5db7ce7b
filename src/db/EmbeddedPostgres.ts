/**
 * The zero-set-up default: with no `DATABASE_URL`, a real PostgreSQL runs from
 * `DATA_DIR/postgres` for the lifetime of the process (persisted across restarts; a server
 * orphaned by a killed run is stopped and replaced).
 */
import { Effect } from "effect"
import pg from "pg"
import * as path from "node:path"
import { startServer } from "./embedded/postgresProcess.js"

export const DEFAULT_DATABASE = "machpay"

const ensureDatabase = (adminUrl: string, name: string) =>
  Effect.tryPromise({
    try: async () => {
      const client = new pg.Client({ connectionString: adminUrl })
      await client.connect()
      try {
        const found = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name])
        if (found.rowCount === 0) await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`)
      } finally {
        await client.end()
      }
    },
    catch: (cause) => new Error(`could not create database ${name}: ${String(cause)}`)
  })

/** Starts the embedded server in the current scope and yields the URL of the app database. */
export const startEmbedded = (dataDir: string, port: number) =>
  Effect.gen(function*() {
    const dir = path.join(dataDir, "postgres")
    const server = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => startServer({ dataDir: dir, port }),
        catch: (cause) => new Error(`embedded PostgreSQL failed to start in ${dir}: ${String(cause)}`)
      }),
      (server) =>
        Effect.promise(() => server.stop()).pipe(
          Effect.tap(() => Effect.logInfo("embedded PostgreSQL stopped").pipe(Effect.annotateLogs({ dataDir: server.dataDir })))
        )
    )
    if (server.recoveredPid !== undefined) {
      yield* Effect.logWarning("stopped a stale embedded PostgreSQL left by a killed run").pipe(
        Effect.annotateLogs({ pid: server.recoveredPid })
      )
    }
    yield* ensureDatabase(server.url, DEFAULT_DATABASE)
    yield* Effect.logInfo("embedded PostgreSQL running").pipe(
      Effect.annotateLogs({ dataDir: server.dataDir, port, database: DEFAULT_DATABASE, initialised: server.initialised })
    )
    return `postgres://postgres@127.0.0.1:${port}/${DEFAULT_DATABASE}`
  })
