/**
 * One process at a time per job: a session-level `pg_try_advisory_lock` taken on a connection
 * checked out for the job's whole run. The lock goes with the session, so a worker that dies
 * (crash, SIGKILL, network loss) releases it without anyone's help.
 *
 * Raw `pg` on purpose: when the unlock fails the session may still hold the lock, and only a
 * raw client can be destroyed instead of returned to the pool (`SqlClient.reserve` always
 * returns its connection). A transaction-level lock would make the whole run one transaction.
 */
import { Effect, Option } from "effect"
import type pg from "pg"
import type { JobName } from "./JobsConfig.js"
import { JobError } from "./JobReport.js"

/** First key of the two-int advisory lock space (the migrator uses the one-bigint space). */
const LOCK_CLASS = 7262

const LOCK_KEYS: Readonly<Record<JobName, number>> = { rollup: 1, partitions: 2, retention: 3, archive: 4 }

export const jobLockKey = (job: JobName): readonly [number, number] => [LOCK_CLASS, LOCK_KEYS[job]]

const query = (client: pg.PoolClient, text: string, values: ReadonlyArray<unknown>) =>
  Effect.tryPromise({
    try: () => client.query<{ ok: boolean }>(text, [...values]),
    catch: (cause) => new JobError({ message: `advisory lock query failed: ${String(cause)}`, cause })
  })

/**
 * Runs `body` while holding the job's lock; `None` when another session holds it. If the
 * unlock fails the connection is destroyed rather than returned to the pool still locked.
 */
export const withJobLock = <A, E, R>(
  pool: pg.Pool,
  job: JobName,
  body: Effect.Effect<A, E, R>
): Effect.Effect<Option.Option<A>, E | JobError, R> =>
  Effect.suspend(() => {
    const key = jobLockKey(job)
    // Until the lock query has answered, the session's state is unknown: do not reuse it.
    let destroy = true
    const unlock = (client: pg.PoolClient) =>
      query(client, "SELECT pg_advisory_unlock($1, $2) AS ok", key).pipe(
        Effect.filterOrFail((result) => result.rows[0]?.ok === true, () => new JobError({ message: "lock was not held" })),
        Effect.catchAll((error) => {
          destroy = true
          return Effect.logWarning("could not release the job lock; closing its connection").pipe(
            Effect.annotateLogs({ job, reason: error.message })
          )
        })
      )
    return Effect.acquireUseRelease(
      Effect.tryPromise({
        try: () => pool.connect(),
        catch: (cause) => new JobError({ message: `cannot reserve a connection for the ${job} lock: ${String(cause)}`, cause })
      }),
      (client) =>
        Effect.flatMap(query(client, "SELECT pg_try_advisory_lock($1, $2) AS ok", key), (result) => {
          destroy = false
          return result.rows[0]?.ok === true
            ? Effect.asSome(Effect.ensuring(body, unlock(client)))
            : Effect.succeedNone
        }),
      (client) => Effect.sync(() => (destroy ? client.release(true) : client.release()))
    )
  })
