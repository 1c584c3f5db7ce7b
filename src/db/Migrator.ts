/**
 * Applies `migrations/NNNN_name.sql` in order. All pending files run in one transaction that
 * first takes a transaction-scoped advisory lock, so two processes starting at once apply
 * each file exactly once: the second waits, then finds nothing pending.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import { existsSync } from "node:fs"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

/** `migrations/` at the project root: one up from the dist/ bundle, else two up from src/db/ (there is no src/migrations). */
const fromBundle = fileURLToPath(new URL("../migrations", import.meta.url))
export const migrationsDir = existsSync(fromBundle) ? fromBundle : fileURLToPath(new URL("../../migrations", import.meta.url))

/** Arbitrary constant shared by every process of this application. */
const MIGRATION_LOCK_KEY = 7_262_001

export interface MigrationFile {
  readonly version: number
  readonly name: string
  readonly file: string
}

export const listMigrations = (dir: string = migrationsDir) =>
  Effect.promise(() => fs.readdir(dir)).pipe(
    Effect.map((names) =>
      names
        .flatMap((name): Array<MigrationFile> => {
          const match = /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(name)
          return match ? [{ version: Number(match[1]), name: match[2] ?? name, file: path.join(dir, name) }] : []
        })
        .sort((a, b) => a.version - b.version)
    )
  )

/** Returns the migrations applied by this call (empty when the schema was current). */
export const migrate = (dir: string = migrationsDir) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const files = yield* listMigrations(dir)
    return yield* sql.withTransaction(
      Effect.gen(function*() {
        yield* sql`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`
        yield* sql`CREATE TABLE IF NOT EXISTS schema_migrations (
          version integer PRIMARY KEY,
          name text NOT NULL,
          applied_at timestamptz NOT NULL DEFAULT now()
        )`
        const rows = yield* sql<{ version: number }>`SELECT version FROM schema_migrations`
        const done = new Set(rows.map((row) => row.version))
        const pending = files.filter((file) => !done.has(file.version))
        for (const migration of pending) {
          const text = yield* Effect.promise(() => fs.readFile(migration.file, "utf8"))
          yield* sql.unsafe(text).pipe(
            Effect.withSpan("Migrator.apply", { attributes: { migration: migration.name } })
          )
          yield* sql`INSERT INTO schema_migrations (version, name) VALUES (${migration.version}, ${migration.name})`
        }
        return pending
      })
    )
  }).pipe(Effect.withSpan("Migrator.migrate"))
