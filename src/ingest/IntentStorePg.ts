/**
 * Payment intents in PostgreSQL. An intent's new state depends on its current row, so a flush
 * reads, folds in memory (IntentStateMachine.ts) and writes — in two statements and no explicit
 * transaction (two round trips, not four with BEGIN and COMMIT; a write abandoned on a hung
 * connection holds no transaction open, so the pool can drop that connection at once).
 *
 * The write is guarded optimistically: it locks the batch's intents and checks that each is the
 * row version the fold started from (`xmin`), or still absent. If another process changed one
 * in between, the statement writes nothing and the flush reads and folds again. The upsert's own
 * guard keeps the status forward-only whatever happens.
 */
import type { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import { StoreError } from "./EventStore.js"
import type { IngestEvent } from "./IngestEvent.js"
import { eventKey } from "./IngestEvent.js"
import { foldIntents, type IntentEvent, type IntentRow, intentKey } from "./IntentStateMachine.js"
import { keysOf, query, RAW_COLUMNS, RAW_INSERT, rowsOf } from "./StoreSql.js"

const INTENT_COLUMNS = `gateway_id text, intent_id text, agent_id text, status text, status_rank smallint, amount numeric,
  asset text, network text, method text, route text, tx_hash text, failure_reason text, expires_at timestamptz,
  created_at timestamptz, updated_at timestamptz, last_event_time timestamptz, received_at timestamptz`
const INTENT_NAMES = INTENT_COLUMNS.split(",").map((c) => c.trim().split(" ")[0] ?? "")

/**
 * One read: the transitions already recorded (`kind` = 'seen': duplicates) and the current rows of
 * the batch's intents with their row version (`kind` = 'current'). Times come as text (ISO 8601, to
 * the microsecond), as the state machine works on strings: read as `Date`s they came back to the
 * millisecond, and an intent's `expires_at` and `created_at` lost their microseconds whenever a
 * later event rewrote the row (an outside probe).
 */
const INTENT_READ = `SELECT 'seen' AS kind, source, event_id AS id, NULL AS version, NULL AS gateway_id, NULL AS intent_id,
         NULL AS agent_id, NULL AS status, NULL::smallint AS status_rank, NULL AS amount, NULL AS asset, NULL AS network,
         NULL AS method, NULL AS route, NULL AS tx_hash, NULL AS failure_reason, NULL AS expires_at,
         NULL AS created_at, NULL AS updated_at, NULL AS last_event_time, NULL AS received_at
    FROM payment_intent_transitions
   WHERE (source, event_id) IN (SELECT k->>0, k->>1 FROM jsonb_array_elements($1::jsonb) k)
  UNION ALL
  SELECT 'current', NULL, NULL, xmin::text, gateway_id, intent_id, agent_id, status, status_rank, amount::text, asset, network,
         method, route, tx_hash, failure_reason, to_json(expires_at)#>>'{}', to_json(created_at)#>>'{}',
         to_json(updated_at)#>>'{}', to_json(last_event_time)#>>'{}', to_json(received_at)#>>'{}'
    FROM payment_intents WHERE (gateway_id, intent_id) IN (SELECT k->>0, k->>1 FROM jsonb_array_elements($2::jsonb) k)`

type IntentReadRow =
  | { readonly kind: "seen"; readonly source: string; readonly id: string }
  | ({ readonly kind: "current"; readonly version: string } & IntentRow)

/**
 * One write, all or nothing: $4 is what the fold started from (gateway, intent, row version or
 * null when absent). The intents are locked in key order; if any differs, nothing is written and
 * the statement answers one `stale` row. Otherwise: the new transitions ($1), the raw log of the
 * events ($2: the batch's rows) whose transition is new, the intents' rows ($3). An intent read
 * as absent is inserted without `ON CONFLICT`: one that another receiver inserts meanwhile (not
 * yet committed when this statement began, so not locked above) makes it fail on the primary
 * key, which is stale too. With `ON CONFLICT DO UPDATE` the fold from "absent" overwrote it (an
 * outside probe with two receivers: `failed` over `settled`, its `tx_hash` lost).
 */
const INTENT_WRITE = `WITH expected AS (
    SELECT k->>0 AS gateway_id, k->>1 AS intent_id, k->>2 AS version FROM jsonb_array_elements($4::jsonb) k),
  locked AS MATERIALIZED (
    SELECT p.gateway_id, p.intent_id, p.xmin::text AS version FROM payment_intents p
      JOIN expected e ON e.gateway_id = p.gateway_id AND e.intent_id = p.intent_id
     ORDER BY p.gateway_id, p.intent_id FOR UPDATE OF p),
  stale AS MATERIALIZED (
    SELECT 1 FROM expected e LEFT JOIN locked l ON l.gateway_id = e.gateway_id AND l.intent_id = e.intent_id
     WHERE l.version IS DISTINCT FROM e.version LIMIT 1),
  transitions AS (
    INSERT INTO payment_intent_transitions
      (gateway_id, intent_id, source, event_id, event_time, received_at, from_status, to_status, applied)
    SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(gateway_id text, intent_id text, source text, event_id text,
      event_time timestamptz, received_at timestamptz, from_status text, to_status text, applied boolean)
     WHERE NOT EXISTS (SELECT 1 FROM stale)
    ON CONFLICT DO NOTHING RETURNING source, event_id AS id),
  input AS (SELECT * FROM jsonb_to_recordset($2::jsonb) AS x(${RAW_COLUMNS})),
  raw AS (${RAW_INSERT}
      JOIN transitions t ON t.source = i.source AND t.id = i.id
    ON CONFLICT DO NOTHING),
  folded AS (SELECT * FROM jsonb_to_recordset($3::jsonb) AS x(${INTENT_COLUMNS})),
  created AS (
    INSERT INTO payment_intents (${INTENT_NAMES.join(", ")})
    SELECT f.* FROM folded f JOIN expected e ON e.gateway_id = f.gateway_id AND e.intent_id = f.intent_id
     WHERE e.version IS NULL AND NOT EXISTS (SELECT 1 FROM stale) ORDER BY f.gateway_id, f.intent_id),
  intents AS (
    INSERT INTO payment_intents (${INTENT_NAMES.join(", ")})
    SELECT f.* FROM folded f JOIN expected e ON e.gateway_id = f.gateway_id AND e.intent_id = f.intent_id
     WHERE e.version IS NOT NULL AND NOT EXISTS (SELECT 1 FROM stale) ORDER BY f.gateway_id, f.intent_id
    ON CONFLICT (gateway_id, intent_id) DO UPDATE SET
      ${INTENT_NAMES.filter((n) => n !== "gateway_id" && n !== "intent_id").map((n) => `${n} = EXCLUDED.${n}`).join(", ")}
    WHERE payment_intents.status_rank <= EXCLUDED.status_rank)
  SELECT source, id, false AS stale FROM transitions
  UNION ALL SELECT NULL, NULL, true FROM stale`

/** What a flush read: duplicates, each intent's current row, and the versions the write must find. */
export interface IntentsRead {
  readonly existing: ReadonlySet<string>
  readonly current: ReadonlyMap<string, IntentRow>
  /** Every intent of the batch with its row version, or null when it is absent ($4 of the write). */
  readonly expected: ReadonlyArray<readonly [gatewayId: string, intentId: string, version: string | null]>
}

export const readIntents = (sql: SqlClient.SqlClient, events: ReadonlyArray<IngestEvent>) =>
  Effect.gen(function*() {
    const intentIds = new Map<string, readonly [string, string]>()
    for (const { known } of events) {
      if (known?.type === "PaymentIntent") {
        intentIds.set(intentKey(known.data.gateway_id, known.data.intent_id), [known.data.gateway_id, known.data.intent_id])
      }
    }
    const read = yield* query<IntentReadRow>(sql, INTENT_READ, [
      JSON.stringify(events.map((e) => [e.source, e.id])),
      JSON.stringify([...intentIds.values()])
    ])
    // Transitions are keyed by (source, event_id): the ones already there are duplicates.
    const existing = new Set<string>()
    const current = new Map<string, IntentRow>()
    const versions = new Map<string, string>()
    for (const row of read) {
      if (row.kind === "seen") existing.add(eventKey(row))
      else {
        const { kind: _, version, ...intent } = row
        const key = intentKey(intent.gateway_id, intent.intent_id)
        current.set(key, intent)
        versions.set(key, version)
      }
    }
    const expected = [...intentIds].map(([key, [gatewayId, intentId]]) => [gatewayId, intentId, versions.get(key) ?? null] as const)
    return { existing, current, expected } satisfies IntentsRead
  })

/** Writes the fold of `events` over what was read; `stale` when an intent changed since the read. */
export const writeFolded = (
  sql: SqlClient.SqlClient,
  read: IntentsRead,
  events: ReadonlyArray<IngestEvent>,
  rows?: ReadonlyArray<Uint8Array>
) =>
  Effect.gen(function*() {
    const fresh: Array<IntentEvent> = events.flatMap((event) =>
      !read.existing.has(eventKey(event)) && event.known?.type === "PaymentIntent" ? [{ event, data: event.known.data }] : []
    )
    if (fresh.length === 0) return { inserted: new Set<string>() }
    const folded = foldIntents(read.current, fresh)
    const written = yield* query<{ source: string | null; id: string | null; stale: boolean }>(sql, INTENT_WRITE, [
      JSON.stringify(folded.transitions),
      // The whole batch's rows: the join with the new transitions keeps the raw log to fresh events.
      rowsOf(events, rows),
      JSON.stringify(folded.rows),
      JSON.stringify(read.expected)
    ]).pipe(Effect.catchIf(insertedMeanwhile, () => Effect.succeed("stale" as const)))
    if (written === "stale" || written.some((row) => row.stale)) return "stale" as const
    return { inserted: keysOf(written as ReadonlyArray<{ source: string; id: string }>) }
  })

/** Another writer inserted an intent this one read as absent: the primary key says so. */
const insertedMeanwhile = (error: StoreError): boolean =>
  error.code === "23505" && typeof error.cause === "object" && error.cause !== null &&
  (error.cause as { constraint?: unknown }).constraint === "payment_intents_pkey"

/** Read, fold, write; again from the read while another process keeps changing the same intents. */
export const writeIntents = (
  sql: SqlClient.SqlClient,
  events: ReadonlyArray<IngestEvent>,
  rows?: ReadonlyArray<Uint8Array>,
  attempts = 5
): Effect.Effect<{ readonly inserted: ReadonlySet<string> }, StoreError> =>
  Effect.flatMap(readIntents(sql, events), (read) => writeFolded(sql, read, events, rows)).pipe(
    Effect.flatMap((result) =>
      result !== "stale"
        ? Effect.succeed(result)
        : attempts > 1
        ? writeIntents(sql, events, rows, attempts - 1)
        : Effect.fail(
          new StoreError({ message: "payment intents kept changing under a concurrent writer; retrying", kind: "unavailable" })
        )
    )
  )
