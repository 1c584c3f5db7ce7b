/**
 * Who listens (src/realtime/Presence.ts), on the real PostgreSQL: a receiver's reading of the
 * `realtime_listeners` rows (its own and stale rows do not count; a reading it cannot make
 * ages out into "notify"), and a listener's row, written on its LISTEN connection and deleted
 * with its session.
 */
import { SqlClient } from "@effect/sql"
import { expect, layer } from "@effect/vitest"
import { Duration, Effect, Schedule } from "effect"
import pg from "pg"
import { PgPool } from "../../src/db/Database.js"
import { announce, presenceTiming, watchListeners } from "../../src/realtime/Presence.js"
import { makeTestDatabase } from "../support/database.js"

// 200 ms (trust 600 ms): with 40 ms a reading delayed 120 ms by a loaded CI machine aged out and the test saw "listening".
const timing = presenceTiming(Duration.millis(200))

/** Until `probe` holds, checked every 10 ms (each reading takes one `check`). */
const eventually = (probe: () => boolean) =>
  Effect.suspend(() => (probe() ? Effect.void : Effect.fail("not yet"))).pipe(
    Effect.retry({ schedule: Schedule.spaced("10 millis"), times: 300 }),
    Effect.orDie
  )

layer(makeTestDatabase(), { excludeTestServices: true })("who listens", (it) => {
  it.scoped("a receiver counts fresh rows of other processes only, and notifies when it cannot tell", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const watch = yield* watchListeners("me", timing)
      yield* eventually(() => !watch.othersListening())

      yield* sql`INSERT INTO realtime_listeners (instance_id) VALUES ('me')`
      yield* Effect.sleep(Duration.times(timing.check, 3))
      expect(watch.othersListening()).toBe(false)

      yield* sql`INSERT INTO realtime_listeners (instance_id, seen_at) VALUES ('gone', now() - interval '1 minute')`
      yield* Effect.sleep(Duration.times(timing.check, 3))
      expect(watch.othersListening()).toBe(false)

      yield* sql`INSERT INTO realtime_listeners (instance_id) VALUES ('api-1')`
      yield* eventually(() => watch.othersListening())
      yield* sql`DELETE FROM realtime_listeners WHERE instance_id = 'api-1'`
      yield* eventually(() => !watch.othersListening())

      // The table cannot be read: the last "nobody" stops being believed.
      yield* sql`ALTER TABLE realtime_listeners RENAME TO realtime_listeners_away`
      yield* Effect.addFinalizer(() => sql`ALTER TABLE realtime_listeners_away RENAME TO realtime_listeners`.pipe(Effect.orDie))
      yield* eventually(() => watch.othersListening())
      yield* Effect.sleep(Duration.times(timing.check, 3))
      expect(watch.othersListening()).toBe(true)
    }))

  it.scoped("a listener's row is written on its connection and deleted when its session ends", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const pool = yield* PgPool
      yield* sql`DELETE FROM realtime_listeners`
      const rows = sql<{ instance_id: string }>`SELECT instance_id FROM realtime_listeners ORDER BY 1`
      yield* Effect.gen(function*() {
        const client = yield* Effect.acquireRelease(
          Effect.promise(async () => {
            const client = new pg.Client(pool.options)
            await client.connect()
            return client
          }),
          (client) => Effect.promise(() => client.end())
        )
        yield* announce(client, "api-2")
        expect(yield* rows).toEqual([{ instance_id: "api-2" }])
      }).pipe(Effect.scoped)
      expect(yield* rows).toEqual([])
    }))
})
