/**
 * SQL of `GET /v1/vendor/consumers`: per agent, payments, spend per asset and first/last
 * payment over the range — ranked, keyset-paginated. Two read paths, chosen in the
 * statement's snapshot (RollupRepo.ts):
 *
 * - the default range of a whole vendor, while its per-agent window is clean
 *   (`consumerWindow`, migration 0033): the window's totals plus the payments since its end
 *   (today), ranked through the window's sort index — agents without a payment today keep
 *   their window figures, so their order is the index's;
 * - otherwise the daily agent rollups for clean days and the raw payments for the rest.
 */
import { SqlClient, SqlSchema } from "@effect/sql"
import { Context, Effect, Layer, Schema } from "effect"
import { Consumer, ConsumerSort as ConsumerSortSchema } from "../../schema/api/ConsoleVendor.js"
import { Range } from "./Params.js"
import { type ConsumerWindow, consumerWindow, paymentSources, withoutJit } from "./RollupRepo.js"
import { dbFailure } from "./Failures.js"
import { money, VendorScope } from "./Scope.js"

export type ConsumerSort = "spend" | "payments" | "last_seen" | "first_seen"

/** Sort expression over the `agg` CTE and the SQL type of its cursor value. */
const SORTS: Readonly<Record<ConsumerSort, { readonly expr: string; readonly type: string; readonly text: string }>> = {
  spend: { expr: "a.total", type: "numeric", text: "a.total::text" },
  payments: { expr: "a.payments", type: "numeric", text: "a.payments::text" },
  last_seen: { expr: "a.last_seen", type: "timestamptz", text: "rfc3339_utc(a.last_seen)" },
  first_seen: { expr: "a.first_seen", type: "timestamptz", text: "rfc3339_utc(a.first_seen)" }
}

/** The window's column and SQL type for each sort (console_consumer_totals `w`). */
const WINDOW_SORTS: Readonly<Record<ConsumerSort, { readonly column: string; readonly type: string }>> = {
  spend: { column: "w.amount", type: "numeric" },
  payments: { column: "w.payments", type: "bigint" },
  last_seen: { column: "w.last_seen", type: "timestamptz" },
  first_seen: { column: "w.first_seen", type: "timestamptz" }
}

const ConsumersInput = Schema.Struct({
  scope: VendorScope,
  split: Range,
  asset: Schema.UndefinedOr(Schema.String),
  sort: ConsumerSortSchema,
  limit: Schema.Int,
  /** Sort value (as text) and agent id of the last row of the previous page. */
  after: Schema.UndefinedOr(Schema.Tuple(Schema.String, Schema.String))
})
export type ConsumersInput = typeof ConsumersInput.Type

const ConsumerRow = Schema.Struct({ ...Consumer.fields, sort_value: Schema.String })

const make = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient

  const findPage = SqlSchema.findAll({
    Request: ConsumersInput,
    Result: ConsumerRow,
    execute: (input) =>
      withoutJit(
        sql,
        Effect.flatMap(
          input.asset === undefined ? consumerWindow(sql, input.scope, input.split) : Effect.succeed(undefined),
          (window) => window === undefined ? fromDailyRollups(sql, input) : fromWindow(sql, input, window)
        )
      )
  })

  const consumers = Effect.fn("ConsoleRepo.consumers")(function*(input: ConsumersInput) {
    const page = yield* findPage(input)
    const rows = page.slice(0, input.limit)
    const items = rows.map(({ sort_value: _, ...row }): Consumer => row)
    const last = rows[rows.length - 1]
    return { items, next: page.length > input.limit && last !== undefined ? [last.sort_value, last.agent_id] as const : undefined }
  }, dbFailure)

  return { consumers } as const
})

export class ConsumersRepo extends Context.Tag("Console/ConsumersRepo")<ConsumersRepo, Effect.Effect.Success<typeof make>>() {}

export const ConsumersRepoLive = Layer.effect(ConsumersRepo, make)

type PageRow = typeof ConsumerRow.Encoded

/** The ranked page from the CTEs `page` (agent_id, payments, total, first/last seen) and `spend`. */
const rankedPage = (sql: SqlClient.SqlClient, sort: (typeof SORTS)[ConsumerSort]) =>
  sql`
    SELECT a.agent_id, ag.name AS agent_name, a.payments::int AS payments,
           rfc3339_utc(a.first_seen) AS first_seen, rfc3339_utc(a.last_seen) AS last_seen,
           ${sql.literal(sort.text)} AS sort_value, s.spend
      FROM page a JOIN spend s USING (agent_id)
      LEFT JOIN agents ag ON ag.id = (a.agent_id COLLATE "default")  -- collation of agents_pkey
     ORDER BY ${sql.literal(sort.expr)} DESC, a.agent_id DESC`

const fromDailyRollups = (sql: SqlClient.SqlClient, input: ConsumersInput) => {
  const { split, scope } = input
  const sort = SORTS[input.sort]
  const assetFilter = (column: string) =>
    input.asset === undefined ? sql.literal("") : sql`AND ${sql.literal(column)} = ${input.asset}`
  const after = input.after === undefined
    ? sql.literal("")
    : sql`WHERE (${sql.literal(sort.expr)}, a.agent_id) < (${input.after[0]}::${sql.literal(sort.type)}, ${input.after[1]} COLLATE "C")`
  // Grouped by (agent, asset) so the page's per-asset spend comes from the same pass; the
  // ranking runs over per-agent sums and only the page's agents get names and spend.
  // COLLATE "C": byte order for the agent id, far cheaper to sort than a linguistic collation.
  return sql<PageRow>`
    WITH ${paymentSources(sql, scope, split)},
    per_asset AS MATERIALIZED (
      SELECT x.agent_id, x.asset, sum(x.payments) AS payments, sum(x.amount) AS amount,
             min(x.first_seen) AS first_seen, max(x.last_seen) AS last_seen
        -- LATERAL: one index probe per clean day (a hash join would scan the whole rollup table).
        FROM (SELECT a.agent_id COLLATE "C" AS agent_id, a.asset, a.payments, a.amount, a.first_seen, a.last_seen
                FROM clean c CROSS JOIN LATERAL (
                  SELECT a.* FROM console_agent_daily a WHERE a.gateway_id = c.gateway_id AND a.day = c.day
                   ${assetFilter("a.asset")}) a
              UNION ALL
              SELECT p.agent_id COLLATE "C", p.asset, 1, p.amount, p.event_time, p.event_time
                FROM raw_ranges r
                JOIN payment_authorized p ON p.gateway_id = r.gateway_id AND p.event_time >= r.lo AND p.event_time < r.hi
                 ${assetFilter("p.asset")}) x
       GROUP BY 1, 2),
    agg AS (
      SELECT agent_id, sum(payments) AS payments, sum(amount) AS total, min(first_seen) AS first_seen,
             max(last_seen) AS last_seen
        FROM per_asset GROUP BY agent_id),
    page AS (
      SELECT * FROM agg a ${after}
       ORDER BY ${sql.literal(sort.expr)} DESC, a.agent_id DESC
       LIMIT ${input.limit + 1}),
    spend AS (
      SELECT x.agent_id, json_agg(json_build_object('asset', x.asset, 'amount', ${sql.literal(money("x.amount"))})
                                  ORDER BY x.asset) AS spend
        FROM per_asset x JOIN page USING (agent_id)
       GROUP BY x.agent_id)
    ${rankedPage(sql, sort)}`
}

/**
 * The page from the vendor's window plus the payments since its end. An agent without such a
 * payment ("untouched") ranks by its window figures, so the candidates are the first
 * `limit + 1` untouched agents in the window's index order and every agent paid since the
 * window's end with its window figures added — exact for every sort, whatever the tail holds.
 */
const fromWindow = (sql: SqlClient.SqlClient, input: ConsumersInput, window: ConsumerWindow) => {
  const sort = SORTS[input.sort]
  const w = WINDOW_SORTS[input.sort]
  const vendor = window.vendorId
  const after = input.after === undefined
    ? { touched: sql.literal(""), untouched: sql.literal("") }
    : {
      touched: sql`WHERE (${sql.literal(sort.expr)}, a.agent_id) < (${input.after[0]}::${sql.literal(sort.type)}, ${
        input.after[1]
      } COLLATE "C")`,
      // The column's own type, so the row comparison is an index condition.
      untouched: sql`AND (${sql.literal(w.column)}, w.agent_id) < (${input.after[0]}::${sql.literal(w.type)}, ${
        input.after[1]
      } COLLATE "C")`
    }
  return sql<PageRow>`
    WITH g AS MATERIALIZED (SELECT g.id FROM gateways g WHERE g.vendor_id = ${vendor}),
    tail_asset AS MATERIALIZED (
      SELECT p.agent_id COLLATE "C" AS agent_id, p.asset, count(*) AS payments, sum(p.amount) AS amount,
             min(p.event_time) AS first_seen, max(p.event_time) AS last_seen
        FROM g JOIN payment_authorized p ON p.gateway_id = g.id
         AND p.event_time >= ${window.to}::timestamptz AND p.event_time < ${input.split.to}::timestamptz
       GROUP BY 1, 2),
    tail AS MATERIALIZED (
      SELECT agent_id, sum(payments) AS payments, sum(amount) AS amount, min(first_seen) AS first_seen,
             max(last_seen) AS last_seen
        FROM tail_asset GROUP BY agent_id),
    touched AS (
      SELECT t.agent_id, coalesce(w.payments, 0) + t.payments AS payments, coalesce(w.amount, 0) + t.amount AS total,
             least(w.first_seen, t.first_seen) AS first_seen, greatest(w.last_seen, t.last_seen) AS last_seen
        FROM tail t LEFT JOIN console_consumer_totals w ON w.vendor_id = ${vendor} AND w.agent_id = t.agent_id),
    untouched AS (
      SELECT w.agent_id, w.payments::numeric AS payments, w.amount AS total, w.first_seen, w.last_seen
        FROM console_consumer_totals w
       WHERE w.vendor_id = ${vendor} ${after.untouched}
         -- NOT IN over a non-null column: a hashed subplan (NOT EXISTS rescans the tail per row).
         AND w.agent_id NOT IN (SELECT t.agent_id FROM tail t)
       ORDER BY ${sql.literal(w.column)} DESC, w.agent_id DESC
       LIMIT ${input.limit + 1}),
    page AS MATERIALIZED (
      SELECT * FROM (SELECT * FROM touched a ${after.touched} UNION ALL SELECT * FROM untouched) a
       ORDER BY ${sql.literal(sort.expr)} DESC, a.agent_id DESC
       LIMIT ${input.limit + 1}),
    spend AS (
      SELECT x.agent_id, json_agg(json_build_object('asset', x.asset, 'amount', ${sql.literal(money("x.amount"))})
                                  ORDER BY x.asset) AS spend
        FROM (SELECT y.agent_id, y.asset, sum(y.amount) AS amount
                FROM (SELECT page.agent_id, u.asset, u.amount
                        FROM page JOIN console_consumer_totals w ON w.vendor_id = ${vendor} AND w.agent_id = page.agent_id
                       CROSS JOIN LATERAL unnest(w.assets, w.asset_amounts) AS u(asset, amount)
                      UNION ALL
                      SELECT t.agent_id, t.asset, t.amount FROM tail_asset t JOIN page USING (agent_id)) y
               GROUP BY 1, 2) x
       GROUP BY x.agent_id)
    ${rankedPage(sql, sort)}`
}
