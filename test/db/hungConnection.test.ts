/**
 * A connection that hangs without an error (a network black hole): the query on it is abandoned
 * by a timeout, and the pool must not hand that connection out again — with one connection in
 * the pool, the next query would otherwise wait behind the lost one for as long as TCP takes.
 * PostgreSQL is reached through a proxy that can freeze the connections it carries.
 */
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Option, Redacted } from "effect"
import { DatabaseLocation, DatabasePoolLive, PgPool } from "../../src/db/Database.js"
import { adminUrl } from "../support/database.js"
import { startFreezableProxy, throughProxy } from "../support/freezableProxy.js"

describe("a hung database connection", () => {
  it.scopedLive("a query abandoned on it does not return the connection to the pool; the next query gets a fresh one", () =>
    Effect.gen(function*() {
      const proxy = yield* Effect.acquireRelease(Effect.promise(() => startFreezableProxy(new URL(adminUrl()))), (p) => Effect.sync(p.close))
      const layer = DatabasePoolLive.pipe(
        Layer.provide(Layer.succeed(DatabaseLocation, {
          url: Redacted.make(throughProxy(adminUrl(), proxy)),
          embedded: false,
          unavailable: Option.none()
        })),
        Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["DB_POOL_MAX", "1"], ["DB_CONNECT_TIMEOUT_MS", "500"]]))))
      )
      yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const pool = yield* PgPool
        expect(yield* sql<{ n: number }>`SELECT 1 AS n`).toEqual([{ n: 1 }])
        proxy.freeze()

        const abandoned = yield* sql`SELECT 2 AS n`.pipe(Effect.timeoutOption("300 millis"))
        expect(Option.isNone(abandoned)).toBe(true)
        // Interrupted: the cancel request (it cannot get a connection: the pool holds one) gives up
        // after DB_CONNECT_TIMEOUT_MS, then the client is handed back with its query still running.
        const next = yield* sql<{ n: number }>`SELECT 3 AS n`.pipe(Effect.timeoutOption("5 seconds"))
        expect(Option.getOrUndefined(next)).toEqual([{ n: 3 }])
        expect(pool.totalCount).toBe(1)
      }).pipe(Effect.provide(layer))
    }), 20_000)
})
