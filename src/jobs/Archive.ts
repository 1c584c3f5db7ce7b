/**
 * Moves terminal payment intents older than the retention into `payment_intents_archive`, with
 * their transitions folded into `history`. One transaction per batch; counts are checked
 * before the transaction commits, so a batch either moves whole or not at all. With
 * `ARCHIVE_DIR` each batch is also written as gzip NDJSON (file renamed into place after commit).
 */
import { SqlClient } from "@effect/sql"
import { Effect, Metric, Option } from "effect"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { promisify } from "node:util"
import * as zlib from "node:zlib"
import * as M from "./JobMetrics.js"
import { type JobContext, JobError, iso } from "./JobReport.js"

const gzip = promisify(zlib.gzip)

const COLUMNS = "intent_id, gateway_id, agent_id, status, status_rank, amount, asset, network, method, route, " +
  "tx_hash, failure_reason, expires_at, created_at, updated_at, last_event_time, received_at"

const UPDATED = COLUMNS.split(", ").filter((c) => c !== "intent_id" && c !== "gateway_id")

/** Eligible: terminal, and nothing happened to it since the cutoff. */
const eligible = (sql: SqlClient.SqlClient, cutoff: Date) =>
  sql`status IN ('settled', 'failed', 'expired') AND updated_at < ${cutoff} AND last_event_time < ${cutoff}`

const countEligible = (cutoff: Date) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.map(
      sql<{ n: number }>`SELECT count(*)::int AS n FROM payment_intents WHERE ${eligible(sql, cutoff)}`,
      (rows) => rows[0]?.n ?? 0
    ))

const io = <A>(what: string, f: () => Promise<A>) =>
  Effect.tryPromise({ try: f, catch: (cause) => new JobError({ message: `${what}: ${String(cause)}`, cause }) })

interface Batch {
  readonly archived: number
  readonly folded: number
  readonly ndjson: string | null
}

/** One batch, in the caller's transaction; fails (so rolls back) when any count disagrees. */
const moveBatch = (cutoff: Date, size: number, withRows: boolean) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const picked = yield* sql<{ gateway_id: string; intent_id: string }>`
      SELECT gateway_id, intent_id FROM payment_intents WHERE ${eligible(sql, cutoff)}
       ORDER BY updated_at, gateway_id, intent_id LIMIT ${size} FOR UPDATE SKIP LOCKED`
    const count = picked.length
    if (count === 0) return { count, batch: { archived: 0, folded: 0, ndjson: null } satisfies Batch }
    // Intent ids are unique per gateway: every statement matches on the pair.
    const keys = sql`unnest(${picked.map((k) => k.gateway_id)}::text[], ${picked.map((k) => k.intent_id)}::text[])
      AS k(gateway_id, intent_id)`
    const [batch] = yield* sql<Batch>`
      WITH src AS (
        SELECT ${sql.literal(COLUMNS.split(", ").map((c) => `p.${c}`).join(", "))},
               coalesce(h.history, '[]'::jsonb) AS history, coalesce(h.n, 0) AS n
          FROM ${keys}
          JOIN payment_intents p ON p.gateway_id = k.gateway_id AND p.intent_id = k.intent_id
          LEFT JOIN LATERAL (
            SELECT count(*)::int AS n,
                   jsonb_agg(jsonb_build_object(
                     'source', t.source, 'event_id', t.event_id, 'event_time', t.event_time,
                     'received_at', t.received_at, 'from_status', t.from_status, 'to_status', t.to_status,
                     'applied', t.applied) ORDER BY t.event_time, t.seq) AS history
              FROM payment_intent_transitions t
             WHERE t.gateway_id = p.gateway_id AND t.intent_id = p.intent_id) h ON true),
      ins AS (
        INSERT INTO payment_intents_archive (${sql.literal(COLUMNS)}, history, archived_at)
        SELECT ${sql.literal(COLUMNS)}, history, now() FROM src
        -- archived before, then revived by a late event: keep both histories
        ON CONFLICT (gateway_id, intent_id) DO UPDATE SET
          ${sql.literal(UPDATED.map((c) => `${c} = EXCLUDED.${c}`).join(", "))},
          history = payment_intents_archive.history || EXCLUDED.history,
          archived_at = EXCLUDED.archived_at
        RETURNING *)
      SELECT (SELECT count(*) FROM ins)::int AS archived,
             (SELECT coalesce(sum(n), 0) FROM src)::int AS folded,
             CASE WHEN ${withRows}::boolean THEN (
               SELECT string_agg((to_jsonb(ins) || jsonb_build_object('amount', ins.amount::text))::text, E'\n'
                                 ORDER BY ins.gateway_id, ins.intent_id)
                 FROM ins) END AS ndjson`
    const archived = batch?.archived ?? 0
    const folded = batch?.folded ?? 0
    if (archived !== count) {
      return yield* new JobError({ message: `archive wrote ${archived} of ${count} intents; batch rolled back` })
    }
    const [transitions] = yield* sql<{ n: number }>`
      WITH d AS (
        DELETE FROM payment_intent_transitions t USING ${keys}
         WHERE t.gateway_id = k.gateway_id AND t.intent_id = k.intent_id RETURNING 1)
      SELECT count(*)::int AS n FROM d`
    if ((transitions?.n ?? 0) !== folded) {
      return yield* new JobError({
        message: `folded ${folded} transitions but ${transitions?.n} exist (written meanwhile?); batch rolled back`
      })
    }
    const [intents] = yield* sql<{ n: number }>`
      WITH d AS (
        DELETE FROM payment_intents p USING ${keys}
         WHERE p.gateway_id = k.gateway_id AND p.intent_id = k.intent_id RETURNING 1)
      SELECT count(*)::int AS n FROM d`
    if ((intents?.n ?? 0) !== count) {
      return yield* new JobError({ message: `deleted ${intents?.n} of ${count} intents; batch rolled back` })
    }
    return { count, batch: { archived, folded, ndjson: batch?.ndjson ?? null } satisfies Batch }
  })

export const runArchive = (ctx: JobContext) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const cutoff = new Date(ctx.now.getTime() - ctx.settings.archiveAfterDays * 86_400_000)
    const size = ctx.settings.archiveBatchSize
    const dir = Option.getOrNull(ctx.settings.archiveDir)
    if (ctx.dryRun) {
      const n = yield* ctx.step(`would archive terminal payment intents last updated before ${iso(cutoff)}`,
        countEligible(cutoff), "intent")
      yield* ctx.note(`${Math.ceil(n / size)} batch(es) of up to ${size}${dir ? `, exported to ${dir}` : ""}`)
      return
    }
    if (dir) yield* io(`cannot create ARCHIVE_DIR ${dir}`, () => fs.mkdir(dir, { recursive: true }))
    const run = `${ctx.now.toISOString().replace(/[-:]|\.\d+/g, "")}-${randomBytes(3).toString("hex")}`
    let total = 0
    for (let n = 1;; n++) {
      const file = dir ? path.join(dir, `payment_intents-${run}-${String(n).padStart(4, "0")}.ndjson.gz`) : null
      const tmp = file ? `${file}.tmp` : null
      const moved = yield* ctx.step(
        `archived payment intents (batch ${n})${file ? ` to ${path.basename(file)}` : ""}`,
        sql.withTransaction(Effect.gen(function*() {
          const { batch, count } = yield* moveBatch(cutoff, size, tmp !== null)
          if (tmp && batch.ndjson !== null) {
            const body = yield* io("gzip failed", () => gzip(`${batch.ndjson}\n`))
            yield* io(`cannot write ${tmp}`, () => fs.writeFile(tmp, body, { flag: "wx" }))
          }
          return count
        })).pipe(
          Effect.tap((count) => (tmp && file && count > 0 ? io(`cannot rename ${tmp}`, () => fs.rename(tmp, file)) : Effect.void)),
          Effect.tapError(() => (tmp ? Effect.promise(() => fs.rm(tmp, { force: true })) : Effect.void))
        ),
        "intent"
      )
      total += moved
      yield* Metric.incrementBy(M.archiveIntentsTotal, moved)
      if (moved < size) break
    }
    yield* Metric.set(M.archiveEligibleIntents, yield* countEligible(cutoff))
    if (total === 0) yield* ctx.note(`no terminal payment intent last updated before ${iso(cutoff)}`)
  }).pipe(Effect.withSpan("Jobs.archive"))
