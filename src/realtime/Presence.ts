/**
 * Whether another process reads the cross-process notifications (Bridge.ts), so that a receiver
 * nobody listens to — one process with every role, or no api process at all — does not encode
 * and send them (about a tenth of the receiver's CPU per event at 10,000 events/s).
 *
 * - An api process writes its row in `realtime_listeners` once its LISTEN connection is up,
 *   refreshes it every `REFRESH`, and deletes it when the session ends. A refresh that keeps
 *   failing ends the session (a reconnect and a gap) long before the row goes stale.
 * - A receiver asks every `check` whether another process's row is fresh. It skips notifying
 *   only while its latest answer is "none" and was asked less than `trust` (3 × check) ago:
 *   before the first answer, after a failed read, or with an answer too old, it notifies.
 * - So every receiver sees a new listener's row at most `trust` after it was written. The
 *   listener counts as listening only after `grace` (4 × check), and marks the gap then: a
 *   receiver may have skipped a batch before it saw the row.
 */
import { SqlClient } from "@effect/sql"
import { Clock, Duration, Effect, Metric, Schedule } from "effect"
import type pg from "pg"
import * as Metrics from "./Metrics.js"

/** How often a listener refreshes its row. */
const REFRESH = Duration.seconds(5)
/** A row older than this is a process that stopped without deleting it. */
const FRESH_SECONDS = 30
/** A listener that could not refresh its row for this long ends its session (well before FRESH). */
const REFRESH_GIVE_UP = Duration.seconds(15)

export interface PresenceTiming {
  /** How often a receiver asks. */
  readonly check: Duration.Duration
  /** How long an answer of "nobody listens" is believed. */
  readonly trust: Duration.Duration
  /** How long a new listener waits before it counts as listening. */
  readonly grace: Duration.Duration
}

export const presenceTiming = (check: Duration.Duration): PresenceTiming => ({
  check,
  trust: Duration.times(check, 3),
  grace: Duration.times(check, 4)
})

/** Receiver side: `othersListening()` is read on the publish path, without a query. */
export interface ListenerWatch {
  readonly othersListening: () => boolean
}

export const watchListeners = (self: string, timing: PresenceTiming) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const clock = yield* Effect.clock
    const trustMs = Duration.toMillis(timing.trust)
    // The answer and when its question was asked (the snapshot is taken after that: conservative).
    let none = false
    let askedAt = 0
    const ask = Effect.gen(function*() {
      const asked = yield* Clock.currentTimeMillis
      const rows = yield* sql<{ n: number }>`
        SELECT count(*)::int AS n FROM realtime_listeners
         WHERE instance_id <> ${self} AND seen_at > now() - make_interval(secs => ${FRESH_SECONDS})`
      const others = rows[0]?.n ?? 0
      none = others === 0
      askedAt = asked
      yield* Metric.set(Metrics.bridgeListeners, others)
    }).pipe(
      // A hung connection must not stop the polling: the query is abandoned (and its connection
      // dropped by the pool) after `trust`, by when its answer would be too old anyway.
      Effect.timeout(timing.trust),
      // Unknown means notify: the answer simply ages out.
      Effect.catchAllCause((cause) => Effect.logDebug("could not read which processes listen", cause))
    )
    yield* ask.pipe(Effect.repeat(Schedule.spaced(timing.check)), Effect.forkScoped)
    return {
      othersListening: () => !(none && clock.unsafeCurrentTimeMillis() - askedAt < trustMs)
    } satisfies ListenerWatch
  })

/**
 * Api side, inside a LISTEN session, over its own connection (a hung pool connection must not
 * hold it up; a hung LISTEN connection is noticed by its probe): the row is written now and
 * deleted when the session's scope closes. The returned effect refreshes it for as long as it
 * runs, and fails when it cannot.
 */
export const announce = (client: pg.Client, self: string) =>
  Effect.gen(function*() {
    const query = (text: string) =>
      Effect.tryPromise({ try: () => client.query(text, [self]), catch: (cause) => cause instanceof Error ? cause : new Error(String(cause)) })
    const write = query(`INSERT INTO realtime_listeners (instance_id, seen_at) VALUES ($1, now())
      ON CONFLICT (instance_id) DO UPDATE SET seen_at = excluded.seen_at`).pipe(
      Effect.timeoutFail({ duration: REFRESH, onTimeout: () => new Error("writing this process's listener row timed out") })
    )
    yield* Effect.acquireRelease(
      write,
      // Interruptible, or a hung connection would hold the release (and the reconnect) forever.
      () => query("DELETE FROM realtime_listeners WHERE instance_id = $1").pipe(Effect.interruptible, Effect.timeout("2 seconds"), Effect.ignore)
    )
    return Effect.sleep(REFRESH).pipe(
      Effect.zipRight(write.pipe(
        Effect.retry(Schedule.spaced("1 second").pipe(Schedule.upTo(REFRESH_GIVE_UP))),
        Effect.mapError((error) => new Error(`could not refresh this process's listener row: ${error.message}`))
      )),
      Effect.forever
    )
  })
