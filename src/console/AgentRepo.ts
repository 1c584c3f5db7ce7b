/**
 * SQL of the agent console: the activity timeline (payments, intents, blocked requests,
 * solvency alerts merged newest first) and spending. Every statement filters on the caller's
 * agent_id, walking each table's `(agent_id, time …)` index.
 */
import { SqlClient, SqlSchema, type Statement } from "@effect/sql"
import { Context, Effect, Layer, Schema } from "effect"
import { ActivityItem, ActivityType as ActivityTypeSchema, SpendingGroup as SpendingGroupSchema, SpendingItem } from "../../schema/api/ConsoleAgent.js"
import { AssetTotal } from "../../schema/api/ConsoleCommon.js"
import { Range } from "./Params.js"
import { dbFailure } from "./Failures.js"
import { money } from "./Scope.js"

export type ActivityType = ActivityItem["type"]

/** `data` is built in SQL per source; decoding it checks that the SQL and the schema agree. */
const decodeItem = Schema.decodeUnknown(ActivityItem)

/** Tie-break between sources at the same time (higher first). */
const RANKS: Readonly<Record<ActivityType, number>> = { payment: 3, intent: 2, request_blocked: 1, solvency_alert: 0 }

/**
 * Last row of the previous page: time, rank of its source, key (seq; for intents the gateway and
 * the intent id, as one text: intent ids are per gateway, so two gateways may share one at the
 * same second, and a key of the intent id alone skipped all but one of them).
 */
const ActivityAfter = Schema.Tuple(Schema.String, Schema.Number, Schema.String)
export type ActivityAfter = readonly [time: string, rank: number, key: string]

interface ActivitySource {
  readonly type: ActivityType
  readonly table: string
  readonly time: string
  /** The tie-breaking key: `seq` (bigint) or an intent's `(gateway_id, intent_id)` as one text. */
  readonly key: "seq" | "intent"
  readonly data: string
}

const SOURCES: ReadonlyArray<ActivitySource> = [
  {
    type: "payment", table: "payment_authorized", time: "event_time", key: "seq",
    data: `jsonb_build_object('payment_id', x.payment_id, 'method', x.method, 'route', x.route,
      'amount', ${money("x.amount")}, 'asset', x.asset, 'network', x.network)`
  },
  {
    type: "intent", table: "payment_intents", time: "updated_at", key: "intent",
    data: `jsonb_build_object('intent_id', x.intent_id, 'status', x.status, 'amount', ${money("x.amount")},
      'asset', x.asset, 'network', x.network, 'tx_hash', x.tx_hash, 'failure_reason', x.failure_reason,
      'created_at', rfc3339_utc(x.created_at))`
  },
  {
    type: "request_blocked", table: "request_blocked", time: "event_time", key: "seq",
    data: `jsonb_build_object('reason', x.reason, 'severity', x.severity, 'method', x.method, 'route', x.route)`
  },
  {
    type: "solvency_alert", table: "solvency_alerts", time: "event_time", key: "seq",
    data: `jsonb_build_object('reason', x.kind, 'severity', x.severity, 'asset', x.asset, 'network', x.network,
      'balance', ${money("x.balance")}, 'threshold', ${money("x.threshold")}, 'required', ${money("x.required")})`
  }
]

const ActivityInput = Schema.Struct({
  agentId: Schema.String,
  range: Range,
  type: Schema.optional(ActivityTypeSchema),
  limit: Schema.Int,
  after: Schema.UndefinedOr(ActivityAfter)
})
export type ActivityInput = typeof ActivityInput.Type

const ActivityRow = Schema.Struct({
  type: ActivityTypeSchema,
  rank: Schema.Int,
  time: Schema.String,
  key: Schema.String,
  gateway_id: Schema.String,
  vendor_id: Schema.NullOr(Schema.String),
  data: Schema.Record({ key: Schema.String, value: Schema.Unknown })
})

const activityQuery = (sql: SqlClient.SqlClient) =>
  SqlSchema.findAll({
    Request: ActivityInput,
    Result: ActivityRow,
    execute: (input) => {
  const { after } = input
  const branch = (source: ActivitySource): Statement.Fragment => {
    const rank = RANKS[source.type]
    const time = sql.literal(`x.${source.time}`)
    // Neither gateway nor intent ids hold a "/", so gateway/intent is one per intent; byte order
    // ("C") makes the ORDER BY and the keyset comparison agree whatever the database's collation.
    const key = sql.literal(source.key === "seq" ? "x.seq" : `(x.gateway_id || '/' || x.intent_id) COLLATE "C"`)
    const keyType = sql.literal(source.key === "seq" ? "bigint" : `text COLLATE "C"`)
    const keyset = after === undefined
      ? sql.literal("")
      : rank < after[1]
      ? sql`AND ${time} <= ${after[0]}::timestamptz`
      : rank > after[1]
      ? sql`AND ${time} < ${after[0]}::timestamptz`
      : sql`AND (${time}, ${key}) < (${after[0]}::timestamptz, ${after[2]}::${keyType})`
    return sql`(
      SELECT ${source.type}::text AS type, ${rank}::int AS rank, ${time} AS sort_time,
             ${source.key === "seq" ? sql`x.seq` : sql`NULL::bigint`} AS sort_seq,
             ${source.key === "seq" ? sql`NULL::text` : key} AS sort_key,
             ${key}::text AS key, x.gateway_id, ${sql.literal(source.data)} AS data
        FROM ${sql.literal(source.table)} x
       WHERE x.agent_id = ${input.agentId}
         AND ${time} >= ${input.range.from}::timestamptz AND ${time} < ${input.range.to}::timestamptz
         ${keyset}
       ORDER BY ${time} DESC, ${key} DESC LIMIT ${input.limit + 1})`
  }
  const branches = SOURCES.filter((s) => input.type === undefined || s.type === input.type).map(branch)
  return sql`
    SELECT page.type, page.rank, rfc3339_utc(page.sort_time) AS time, page.key, page.gateway_id,
           gw.vendor_id, page.data
      FROM (${sql.join(" UNION ALL ", false)(branches)}) page
      LEFT JOIN gateways gw ON gw.id = page.gateway_id
     ORDER BY page.sort_time DESC, page.rank DESC, page.sort_seq DESC, page.sort_key COLLATE "C" DESC
     LIMIT ${input.limit + 1}`
    }
  })

export type SpendingGroup = "vendor" | "gateway" | "endpoint"

const GROUPS: Readonly<Record<SpendingGroup, { readonly inner: string; readonly outer: string }>> = {
  vendor: { inner: "", outer: "NULL::text AS gateway_id, NULL::text AS method, NULL::text AS route" },
  gateway: { inner: "", outer: "s.gateway_id, NULL::text AS method, NULL::text AS route" },
  endpoint: { inner: ", p.method, p.route", outer: "s.gateway_id, s.method, s.route" }
}

const SpendingRequest = Schema.Struct({
  agentId: Schema.String,
  range: Range,
  groupBy: SpendingGroupSchema,
  limit: Schema.Int
})

/** The caller's payments in the range, for `WHERE`. */
const inRangeOf = (sql: SqlClient.SqlClient, { agentId, range }: typeof SpendingRequest.Encoded) => {
  const inRange = sql`p.agent_id = ${agentId}
    AND p.event_time >= ${range.from}::timestamptz AND p.event_time < ${range.to}::timestamptz`
  return inRange
}

const spendingItemsQuery = (sql: SqlClient.SqlClient) =>
  SqlSchema.findAll({
    Request: SpendingRequest,
    Result: SpendingItem,
    execute: (request) => {
  const { groupBy, limit } = request
  const group = GROUPS[groupBy]
  const inRange = inRangeOf(sql, request)
  const outerKeys = groupBy === "vendor" ? "gw.vendor_id, v.name, s.asset" : `gw.vendor_id, v.name, s.asset, ${
    groupBy === "gateway" ? "s.gateway_id" : "s.gateway_id, s.method, s.route"
  }`
  return sql`
      WITH s AS (
        SELECT p.gateway_id, p.asset${sql.literal(group.inner)}, sum(p.amount) AS amount, count(*) AS payments
          FROM payment_authorized p WHERE ${inRange}
         GROUP BY p.gateway_id, p.asset${sql.literal(group.inner)})
      SELECT gw.vendor_id, v.name AS vendor_name, ${sql.literal(group.outer)}, s.asset,
             ${sql.literal(money("sum(s.amount)"))} AS amount, sum(s.payments)::int AS payments
        FROM s LEFT JOIN gateways gw ON gw.id = s.gateway_id LEFT JOIN vendors v ON v.id = gw.vendor_id
       GROUP BY ${sql.literal(outerKeys)}
       ORDER BY sum(s.amount) DESC, 1, 3, 4, 5
       LIMIT ${limit + 1}`
    }
  })

const spendingTotalsQuery = (sql: SqlClient.SqlClient) =>
  SqlSchema.findAll({
    Request: SpendingRequest,
    Result: AssetTotal,
    execute: (request) => {
  const inRange = inRangeOf(sql, request)
  return sql`
      SELECT p.asset, ${sql.literal(money("sum(p.amount)"))} AS amount, count(*)::int AS payments
        FROM payment_authorized p WHERE ${inRange}
       GROUP BY p.asset ORDER BY p.asset`
    }
  })

const make = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const findActivity = activityQuery(sql)
  const findSpendingItems = spendingItemsQuery(sql)
  const findSpendingTotals = spendingTotalsQuery(sql)

  const activity = Effect.fn("ConsoleRepo.activity")(function*(input: ActivityInput) {
    const rows = yield* findActivity(input)
    return yield* Effect.forEach(rows, (row) =>
      Effect.map(
        decodeItem({ ...row.data, type: row.type, time: row.time, gateway_id: row.gateway_id, vendor_id: row.vendor_id }),
        (item) => ({ item, cursor: [row.time, row.rank, row.key] as const })
      ))
  }, dbFailure)

  const spending = Effect.fn("ConsoleRepo.spending")(function*(
    agentId: string,
    range: Range,
    groupBy: SpendingGroup,
    limit: number
  ) {
    const request = { agentId, range, groupBy, limit }
    const [items, totals] = yield* Effect.all([
      findSpendingItems(request),
      findSpendingTotals(request)
    ], { concurrency: "unbounded" })
    return { items: items.slice(0, limit), totals, truncated: items.length > limit }
  }, dbFailure)

  return { activity, spending } as const
})

export class AgentRepo extends Context.Tag("Console/AgentRepo")<AgentRepo, Effect.Effect.Success<typeof make>>() {}

export const AgentRepoLive = Layer.effect(AgentRepo, make)
