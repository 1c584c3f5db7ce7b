import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { describe, expect, it, layer } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import pg from "pg"
import { listMigrations, migrate } from "../../src/db/Migrator.js"
import { makeTestDatabase, TestDatabaseInfo } from "../support/database.js"

const EXPECTED_TABLES = [
  "vendors", "gateways", "gateway_config_history", "agents", "endpoints", "telemetry_events",
  "payment_authorized", "request_blocked", "solvency_alerts", "payment_intents",
  "payment_intent_transitions", "payment_intents_archive", "gateway_telemetry",
  "gateway_stats_hourly", "dead_letters"
]

/** A second, independent client on the same database, as a second process would have. */
const secondClient = Layer.unwrapScoped(
  Effect.gen(function*() {
    const info = yield* TestDatabaseInfo
    const pool = yield* Effect.acquireRelease(
      Effect.sync(() => new pg.Pool({ connectionString: Redacted.value(info.url), max: 2 })),
      (p) => Effect.promise(() => p.end())
    )
    return PgClient.layerFromPool({ acquire: Effect.succeed(pool) })
  })
)

describe("migration files", () => {
  it.effect("have unique, increasing versions", () =>
    Effect.gen(function*() {
      const files = yield* listMigrations()
      expect(files.length).toBeGreaterThan(0)
      const versions = files.map((file) => file.version)
      expect(new Set(versions).size).toBe(versions.length)
      expect([...versions].sort((a, b) => a - b)).toEqual(versions)
    }))
})

layer(makeTestDatabase({ migrate: false }))("migrations", (it) => {
  it.effect("apply to an empty database, then re-running is a no-op", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const files = yield* listMigrations()
      const first = yield* migrate()
      expect(first.map((m) => m.version)).toEqual(files.map((m) => m.version))
      const second = yield* migrate()
      expect(second).toEqual([])
      const tables = yield* sql<{ table_name: string }>`
        SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'`
      const names = new Set(tables.map((t) => t.table_name))
      for (const table of EXPECTED_TABLES) expect(names, table).toContain(table)
      const recorded = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM schema_migrations`
      expect(recorded[0]?.n).toBe(files.length)
    }))
})

layer(makeTestDatabase({ migrate: false }))("concurrent start-up", (it) => {
  it.effect("two processes migrating at once apply each file exactly once", () =>
    Effect.gen(function*() {
      const files = yield* listMigrations()
      const other = migrate().pipe(Effect.provide(secondClient))
      const [a, b] = yield* Effect.all([migrate(), other], { concurrency: 2 })
      // One of them did all the work, the other found nothing pending.
      expect([a.length, b.length].sort()).toEqual([0, files.length])
      const sql = yield* SqlClient.SqlClient
      const rows = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM schema_migrations`
      expect(rows[0]?.n).toBe(files.length)
    }))
})
