/**
 * SQL of `GET /v1/vendor/consumers`: per agent, payments, spend per asset and first/last
 * payment over the range — from the console's daily agent rollups for rolled-up days and
 * the raw payments for the rest (RollupRepo.ts) — ranked, keyset-paginated.
 */
import { SqlClient, SqlSchema } from "@effect/sql"
import { Context, Effect, Layer, Schema } from "effect"
import { Consumer, ConsumerSort as ConsumerSortSchema } from "../../schema/api/ConsoleVendor.js"
import { Range } from "./Params.js"
import { paymentSources, withoutJit } from "./RollupRepo.js"
import { dbFailure } from "./Failures.js"
import { money, VendorScope, vendorGateways } from "./Scope.js"

export type ConsumerSort = "spend" | "payments" | "last_seen" | "first_seen"

/** Sort expression over the `agg` CTE and the SQL type of its cursor value. */
const SORTS: Readonly<Record<ConsumerSort, { readonly expr: string; readonly type: string; readonly text: string }>> = {
  spend: { expr: "a.total", type: "numeric", text: "a.total::text" },
  payments: { expr: "a.payments", type: "numeric", text: "a.payments::text" },
  last_seen: { expr: "a.last_seen", type: "timestamptz", text: "rfc3339_utc(a.last_seen)" },
  first_seen: { expr: "a.first_seen", type: "timestamptz", text: "rfc3339_utc(a.first_seen)" }
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
    execute: (input) => {
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
  return withoutJit(sql, sql`
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
    SELECT a.agent_id, ag.name AS agent_name, a.payments::int AS payments,
           rfc3339_utc(a.first_seen) AS first_seen, rfc3339_utc(a.last_seen) AS last_seen,
           ${sql.literal(sort.text)} AS sort_value, s.spend
      FROM page a JOIN spend s USING (agent_id)
      LEFT JOIN agents ag ON ag.id = (a.agent_id COLLATE "default")  -- collation of agents_pkey
     ORDER BY ${sql.literal(sort.expr)} DESC, a.agent_id DESC`)
    }
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
