/**
 * A database that refuses connections for a few seconds (SQLSTATE 55000, "not accepting
 * connections", after its sessions were ended: 57P01) is an outage, not a verdict on the data.
 * Found by an outside probe on 2026-12-08: such errors were retried five times (under a second)
 * and then every acknowledged event in flight was dead-lettered, and re-sending one was answered
 * `duplicate` without storing it.
 */
import { expect, layer } from "@effect/vitest"
import { Effect, Schedule } from "effect"
import { adminUrl, queryOnce, TestDatabaseInfo } from "../support/database.js"
import { count, ingest, KEYS, outcomes, payment, Servers, ServersLive, STRUCTURED, structured, WAIT } from "./support.js"

const refuseConnections = (name: string, refuse: boolean) =>
  Effect.promise(async () => {
    await queryOnce(adminUrl(), `ALTER DATABASE "${name}" ALLOW_CONNECTIONS ${refuse ? "false" : "true"}`)
    if (refuse) await queryOnce(adminUrl(), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${name}'`)
  })

layer(ServersLive, { excludeTestServices: true, timeout: "120 seconds" })("database refusing connections for a while", (it) => {
  it.effect("acknowledged events wait for it and are stored; none is dead-lettered; a re-send is a duplicate of a stored event", () =>
    Effect.gen(function*() {
      const { main } = yield* Servers
      const { name } = yield* TestDatabaseInfo
      // The key is known to the receiver before the outage (a key never seen gets 503 while the database is away).
      expect((yield* structured(payment(), WAIT)).status).toBe(200)

      yield* Effect.acquireRelease(refuseConnections(name, true), () => refuseConnections(name, false))
      const events = Array.from({ length: 5 }, () => payment())
      const ids = events.map((e) => String(e["id"]))
      for (const event of events) {
        const reply = yield* ingest(main, JSON.stringify(event), { "content-type": STRUCTURED }, KEYS.main)
        expect(reply.status, reply.text).toBe(202)
      }
      // Longer than the five quick retries that used to end in the dead-letter table.
      yield* Effect.sleep("4 seconds")
      yield* refuseConnections(name, false)

      const stored = count("payment_authorized", "event_id", ids).pipe(
        Effect.retry({ schedule: Schedule.spaced("200 millis"), times: 100, while: () => true }),
        Effect.orDie
      )
      yield* stored.pipe(
        Effect.repeat({ schedule: Schedule.spaced("250 millis"), until: (n) => n === ids.length }),
        Effect.timeout("60 seconds")
      )
      expect(yield* count("dead_letters", "event_id", ids)).toBe(0)
      // The gateway, unsure, sends one again: it is a duplicate of an event that is stored.
      const again = yield* structured(events[0], WAIT)
      expect(again.status).toBe(200)
      expect((yield* outcomes(again)).results[0]?.status).toBe("duplicate")
    }).pipe(Effect.scoped), 90_000)
})
