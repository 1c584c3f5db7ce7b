/**
 * A connection that hangs without an error (a network black hole): the query on it is abandoned
 * by a timeout, and the pool must not hand that connection out again — with one connection in
 * the pool, the next query would otherwise wait behind the lost one for as long as TCP takes.
 * PostgreSQL is reached through a proxy that can freeze the connections it carries.
 */
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Either, Layer, Option, Redacted, Schedule } from "effect"
import { DatabaseLocation, DatabasePoolLive, PgPool } from "../../src/db/Database.js"
import { migrate } from "../../src/db/Migrator.js"
import { abandonAfter, EventStore } from "../../src/ingest/EventStore.js"
import { EventStorePg } from "../../src/ingest/EventStorePg.js"
import { adminUrl, createDatabase, databaseUrl } from "../support/database.js"
import { type FreezableProxy, startFreezableProxy, throughProxy } from "../support/freezableProxy.js"
import { wireEvent, wireIntent } from "../support/ingestEvents.js"
import { toIngestEvent } from "../ingest/support.js"
import { presenceTiming, watchListeners } from "../../src/realtime/Presence.js"

/** The pool of one connection to `url` through `proxy`, as the server builds it. */
const poolThrough = (url: string, proxy: FreezableProxy) =>
  DatabasePoolLive.pipe(
    Layer.provide(Layer.succeed(DatabaseLocation, {
      url: Redacted.make(throughProxy(url, proxy)),
      embedded: false,
      unavailable: Option.none()
    })),
    Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["DB_POOL_MAX", "1"], ["DB_CONNECT_TIMEOUT_MS", "500"]]))))
  )

/** A new database, reached through a freezable proxy (closed with the scope). */
const proxiedDatabase = Effect.gen(function*() {
  const name = yield* createDatabase("hung")
  const proxy = yield* Effect.acquireRelease(
    Effect.promise(() => startFreezableProxy(new URL(databaseUrl(name)))),
    (p) => Effect.sync(p.close)
  )
  return { name, proxy }
})

describe("a hung database connection", () => {
  it.scopedLive("a query abandoned on it does not return the connection to the pool; the next query gets a fresh one", () =>
    Effect.gen(function*() {
      const proxy = yield* Effect.acquireRelease(Effect.promise(() => startFreezableProxy(new URL(adminUrl()))), (p) => Effect.sync(p.close))
      const layer = poolThrough(adminUrl(), proxy)
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

  it.scopedLive("an intent write abandoned on it holds no transaction open: the next write gets a fresh connection", () =>
    Effect.gen(function*() {
      const { name, proxy } = yield* proxiedDatabase
      const layer = EventStorePg.pipe(Layer.provideMerge(poolThrough(databaseUrl(name), proxy)))
      yield* Effect.gen(function*() {
        yield* migrate()
        const store = yield* EventStore
        const intent = (id: string, status: "pending" | "settled") =>
          toIngestEvent(wireIntent({ id, time: "2025-06-01T12:00:00Z" }, "int-hung", status))
        yield* store.write("PaymentIntent", [intent("hung-1", "pending")])
        proxy.freeze()

        const abandoned = yield* abandonAfter(Duration.millis(300))(store.write("PaymentIntent", [intent("hung-2", "settled")])).pipe(Effect.either)
        expect(Either.isLeft(abandoned) && abandoned.left.kind).toBe("unavailable")
        // The abandoned write is handed back once its cancel request gives up (DB_CONNECT_TIMEOUT_MS);
        // until then the one connection is taken, so the next write may have to try again. A
        // transaction would have held the connection for its ROLLBACK, which hangs as well.
        const payment = toIngestEvent(wireEvent("PaymentAuthorized", { id: "hung-pay", time: "2025-06-01T12:00:01Z" }))
        const next = yield* store.write("PaymentAuthorized", [payment]).pipe(
          Effect.retry(Schedule.spaced("200 millis").pipe(Schedule.upTo("5 seconds"))),
          Effect.either
        )
        expect(Either.isRight(next) && next.right.inserted.size).toBe(1)
        const retried = yield* store.write("PaymentIntent", [intent("hung-2", "settled")])
        expect(retried.inserted.size).toBe(1)
      }).pipe(Effect.provide(layer))
    }), 30_000)

  it.scopedLive("the receiver's poll of who listens is abandoned on it and goes on with a fresh connection", () =>
    Effect.gen(function*() {
      const { name, proxy } = yield* proxiedDatabase
      yield* Effect.gen(function*() {
        yield* migrate()
        const watch = yield* watchListeners("me", presenceTiming(Duration.millis(50)))
        const until = (wanted: boolean) =>
          Effect.suspend(() => (watch.othersListening() === wanted ? Effect.void : Effect.fail("not yet"))).pipe(
            Effect.retry(Schedule.spaced("20 millis").pipe(Schedule.upTo("8 seconds"))),
            Effect.orDie
          )
        yield* until(false)
        proxy.freeze()
        // The hung poll's "nobody" ages out into "notify" ...
        yield* until(true)
        // ... and the next poll, on a new connection, can tell again (a poll without a deadline
        // would wait for as long as TCP takes, and the receiver would notify all that time).
        yield* until(false)
      }).pipe(Effect.provide(poolThrough(databaseUrl(name), proxy)))
    }), 30_000)
})
