/**
 * A fresh, migrated database per test file (or per call), dropped afterwards.
 *
 *   layer(TestDatabase.layer)("…", (it) => { it.effect("…", () => …) })
 */
import { PgClient } from "@effect/sql-pg"
import { Context, Effect, Layer, Redacted } from "effect"
import { randomBytes } from "node:crypto"
import pg from "pg"
import { inject } from "vitest"
import { PgPool } from "../../src/db/Database.js"
import { migrate } from "../../src/db/Migrator.js"
import { hashIngestKey } from "../../src/identity/IngestKey.js"

export const adminUrl = (): string => inject("adminDatabaseUrl")

/** One query on a connection of its own, opened and closed around it. */
export const queryOnce = async (url: string, text: string): Promise<Array<unknown>> => {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query(text)).rows
  } finally {
    await client.end()
  }
}

export const databaseUrl = (name: string): string => {
  const url = new URL(adminUrl())
  url.pathname = `/${name}`
  return url.toString()
}

const admin = <A>(f: (client: pg.Client) => Promise<A>): Promise<A> => {
  const client = new pg.Client({ connectionString: adminUrl() })
  return client.connect().then(() => f(client).finally(() => client.end()))
}

export const createDatabase = (prefix = "t") =>
  Effect.acquireRelease(
    Effect.promise(() => {
      const name = `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`
      return admin((client) => client.query(`CREATE DATABASE "${name}"`)).then(() => name)
    }),
    (name) =>
      Effect.promise(() => admin((client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)))
  )

export class TestDatabaseInfo extends Context.Tag("Test/DatabaseInfo")<TestDatabaseInfo, {
  readonly name: string
  readonly url: Redacted.Redacted<string>
}>() {}

/** Pool + SqlClient on a new database, optionally migrated. */
export const makeTestDatabase = (options: { readonly migrate: boolean } = { migrate: true }) =>
  Layer.unwrapScoped(
    Effect.gen(function*() {
      const name = yield* createDatabase()
      const url = databaseUrl(name)
      const pool = yield* Effect.acquireRelease(
        Effect.sync(() => {
          const pool = new pg.Pool({ connectionString: url, max: 5 })
          pool.on("error", () => undefined)
          return pool
        }),
        (pool) => Effect.promise(() => pool.end())
      )
      const client = PgClient.layerFromPool({ acquire: Effect.succeed(pool) })
      const base = Layer.merge(client, Layer.succeed(PgPool, pool)).pipe(
        Layer.merge(Layer.succeed(TestDatabaseInfo, { name, url: Redacted.make(url) }))
      )
      return options.migrate ? Layer.effectDiscard(migrate()).pipe(Layer.provideMerge(base)) : base
    })
  )

export const TestDatabase = { layer: makeTestDatabase() }

/** A vendor `v1` and one gateway of it in the database at `url`; returns the gateway's new ingest key. */
export const seedGateway = async (url: string, gatewayId: string): Promise<string> => {
  const key = `mpk_live_${randomBytes(32).toString("base64url")}`
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    await client.query("INSERT INTO vendors (id, name) VALUES ('v1', 'Vendor') ON CONFLICT DO NOTHING")
    await client.query("INSERT INTO gateways (id, vendor_id, name, ingest_key_hash) VALUES ($1, 'v1', 'gw', $2)", [
      gatewayId,
      hashIngestKey(key)
    ])
  } finally {
    await client.end()
  }
  return key
}
