/**
 * SQL of the vendor's keyset-paginated lists: payments, and alerts (blocked requests +
 * solvency alerts). Pages are ordered by (event_time, seq) descending; the cursor holds the
 * last row's exact event_time (microseconds, as rfc3339_utc printed it) and seq, so rows
 * inserted meanwhile never shift a page.
 *
 * PostgreSQL cannot merge `gateway_id = ANY(…)` index ranges in order, so each source is read
 * per gateway with a LATERAL index scan that stops after `limit + 1` rows, and the few hundred
 * candidates are merged on top (docs/database.md, query 1″). With an agent filter the agent's
 * own index is walked instead and joined to the vendor's gateways.
 */
import { SqlClient, SqlSchema, type Statement } from "@effect/sql"
import { Context, Effect, Layer, Schema } from "effect"
import { type Alert, Payment } from "../../schema/api/ConsoleVendor.js"
import { Range } from "./Params.js"
import { dbFailure } from "./Failures.js"
import { andIf, money, VendorScope, vendorGateways } from "./Scope.js"

/** (event_time, seq) of the last row of the previous page. */
const After = Schema.Tuple(Schema.String, Schema.String)
export type After = readonly [time: string, seq: string]

interface Source {
  readonly table: string
  /** Columns selected from `x` (the table's alias), already in wire form. */
  readonly columns: string
  /** Extra `AND …` filters on `x`. */
  readonly filters: Statement.Fragment
  /** `AND …` keyset condition on `x`, or empty on the first page. */
  readonly keyset: Statement.Fragment
  /**
   * The filters read only columns of the `(gateway_id, event_time, seq) INCLUDE (…)` index:
   * find the page's keys index-only first, then fetch those rows — a selective filter then
   * skips non-matching rows in the index instead of fetching each from the heap.
   */
  readonly keysFirst?: boolean
  /**
   * The filters include an amount bound (`min_amount` / `max_amount`), so with `keysFirst`
   * each gateway first counts its matches through the (gateway_id, amount) index (migration
   * 0034), stopping at `FEW_MATCHES`: fewer → read them all there and keep the newest; more →
   * walk the time index with the filter, which then finds a page after ~limit × range / matches
   * entries. A selective filter no longer walks the whole range (the largest vendor's biggest
   * gateway: 265k entries for no match), and a common one is not sorted in full.
   */
  readonly amountBound?: boolean
}

/** Matches of an amount filter in one gateway's range below which they are read by amount. */
const FEW_MATCHES = 2000

/**
 * Newest `limit` rows of one source for the vendor: per gateway (LATERAL) or, with an agent,
 * along the agent's index joined to the vendor's gateways.
 */
const newest = (
  sql: SqlClient.SqlClient,
  scope: VendorScope,
  range: Range,
  agentId: string | undefined,
  limit: number,
  source: Source
) => {
  const table = sql.literal(source.table)
  const columns = sql.literal(source.columns)
  const inRange = sql`x.event_time >= ${range.from}::timestamptz AND x.event_time < ${range.to}::timestamptz`
  if (agentId === undefined && source.keysFirst === true && source.amountBound === true) {
    // `OFFSET 0` keeps the time conditions out of the inner scan: with only the gateway and
    // the amount bound as index conditions, the planner reads the (gateway_id, amount) index.
    const matches = sql`SELECT x.event_time, x.seq FROM (
                          SELECT x.event_time, x.seq FROM ${table} x WHERE x.gateway_id = g.id ${source.filters} OFFSET 0) x
                         WHERE ${inRange} ${source.keyset}`
    return sql`
      SELECT y.* FROM gateways g CROSS JOIN LATERAL (
        SELECT ${columns}, x.event_time AS sort_time, x.seq AS sort_seq
          FROM (SELECT k.event_time, k.seq
                  FROM (SELECT m.event_time, m.seq FROM (${matches}) m
                         WHERE (SELECT count(*) FROM (${matches} LIMIT ${FEW_MATCHES}) c) < ${FEW_MATCHES}
                        UNION ALL
                        (SELECT x.event_time, x.seq FROM ${table} x
                          WHERE x.gateway_id = g.id AND ${inRange} ${source.keyset} ${source.filters}
                            AND (SELECT count(*) FROM (${matches} LIMIT ${FEW_MATCHES}) c) >= ${FEW_MATCHES}
                          ORDER BY x.event_time DESC, x.seq DESC LIMIT ${limit})) k
                 ORDER BY k.event_time DESC, k.seq DESC LIMIT ${limit}) k
          JOIN ${table} x ON x.gateway_id = g.id AND x.event_time = k.event_time AND x.seq = k.seq) y
       WHERE ${vendorGateways(sql, scope)}`
  }
  if (agentId === undefined && source.keysFirst === true) {
    return sql`
      SELECT y.* FROM gateways g CROSS JOIN LATERAL (
        SELECT ${columns}, x.event_time AS sort_time, x.seq AS sort_seq
          FROM (SELECT x.event_time, x.seq FROM ${table} x
                 WHERE x.gateway_id = g.id AND ${inRange} ${source.keyset} ${source.filters}
                 ORDER BY x.event_time DESC, x.seq DESC LIMIT ${limit}) k
          JOIN ${table} x ON x.gateway_id = g.id AND x.event_time = k.event_time AND x.seq = k.seq) y
       WHERE ${vendorGateways(sql, scope)}`
  }
  if (agentId !== undefined && source.keysFirst === true) {
    // The agent's index INCLUDEs gateway_id, amount and asset (migration 0034): walk it in
    // order index-only, keep the vendor's gateways, stop at the page, then fetch those rows —
    // instead of fetching every payment of the agent from the heap and sorting.
    return sql`
      SELECT ${columns}, x.event_time AS sort_time, x.seq AS sort_seq
        FROM (SELECT x.gateway_id, x.event_time, x.seq FROM ${table} x
               WHERE x.agent_id = ${agentId} AND ${inRange} ${source.keyset} ${source.filters}
                 AND x.gateway_id = ANY (ARRAY(SELECT g.id FROM gateways g WHERE ${vendorGateways(sql, scope)}))
               ORDER BY x.event_time DESC, x.seq DESC LIMIT ${limit}) k
        JOIN ${table} x ON x.gateway_id = k.gateway_id AND x.event_time = k.event_time AND x.seq = k.seq`
  }
  return agentId === undefined
    ? sql`
      SELECT y.* FROM gateways g CROSS JOIN LATERAL (
        SELECT ${columns}, x.event_time AS sort_time, x.seq AS sort_seq FROM ${table} x
         WHERE x.gateway_id = g.id AND ${inRange} ${source.keyset} ${source.filters}
         ORDER BY x.event_time DESC, x.seq DESC LIMIT ${limit}) y
       WHERE ${vendorGateways(sql, scope)}`
    : sql`
      SELECT ${columns}, x.event_time AS sort_time, x.seq AS sort_seq
        FROM ${table} x JOIN gateways g ON g.id = x.gateway_id
       WHERE x.agent_id = ${agentId} AND ${vendorGateways(sql, scope)} AND ${inRange} ${source.keyset} ${source.filters}
       ORDER BY x.event_time DESC, x.seq DESC LIMIT ${limit}`
}

/** Every source also selects raw sort keys (`sort_time`, `sort_seq`) for the merge; decoding drops them. */

const keysetOn = (sql: SqlClient.SqlClient, after: After | undefined) =>
  after === undefined ? sql.literal("") : sql`AND (x.event_time, x.seq) < (${after[0]}::timestamptz, ${after[1]}::bigint)`

const PAYMENT_COLUMNS = `x.payment_id, x.gateway_id, x.agent_id, x.request_id, x.method, x.route,
  ${money("x.amount")} AS amount, x.asset, x.network, x.payer, x.pay_to, x.scheme,
  rfc3339_utc(x.event_time) AS event_time, rfc3339_utc(x.received_at) AS received_at, x.seq::text AS seq`

const PaymentsInput = Schema.Struct({
  scope: VendorScope,
  range: Range,
  agentId: Schema.optional(Schema.String),
  asset: Schema.optional(Schema.String),
  network: Schema.optional(Schema.String),
  minAmount: Schema.optional(Schema.String),
  maxAmount: Schema.optional(Schema.String),
  limit: Schema.Int,
  after: Schema.UndefinedOr(After)
})
export type PaymentsInput = typeof PaymentsInput.Type

/** A payment and its seq (the cursor's tie-break); the raw sort keys are not decoded. */
const PaymentRow = Schema.Struct({ ...Payment.fields, seq: Schema.String })

const paymentsQuery = (sql: SqlClient.SqlClient) =>
  SqlSchema.findAll({
    Request: PaymentsInput,
    Result: PaymentRow,
    execute: (input) => {
  const filters = sql`
    ${andIf(sql, input.asset !== undefined, () => sql`x.asset = ${input.asset}`)}
    ${andIf(sql, input.network !== undefined, () => sql`x.network = ${input.network}`)}
    ${andIf(sql, input.minAmount !== undefined, () => sql`x.amount >= ${input.minAmount}::numeric`)}
    ${andIf(sql, input.maxAmount !== undefined, () => sql`x.amount <= ${input.maxAmount}::numeric`)}`
  return sql`
    SELECT * FROM (${
    newest(sql, input.scope, input.range, input.agentId, input.limit + 1, {
      table: "payment_authorized",
      columns: PAYMENT_COLUMNS,
      filters,
      keyset: keysetOn(sql, input.after),
      // agent_id, amount and asset are in the index; network is not.
      keysFirst: input.network === undefined,
      amountBound: input.minAmount !== undefined || input.maxAmount !== undefined
    })
  }) page ORDER BY sort_time DESC, sort_seq DESC LIMIT ${input.limit + 1}`
    }
  })

/** Rank breaks ties between the two sources at the same event_time (higher first). */
const RANKS = { request_blocked: 1, solvency_alert: 0 } as const
export type AlertKind = keyof typeof RANKS
const BLOCK_SEVERITIES = new Set(["low", "medium", "high", "critical"])
const SOLVENCY_SEVERITIES = new Set(["warning", "critical"])

/** Last row of the previous page: event_time, rank of its source, seq. */
const AlertAfter = Schema.Tuple(Schema.String, Schema.Number, Schema.String)
export type AlertAfter = readonly [time: string, rank: number, seq: string]

const AlertsInput = Schema.Struct({
  scope: VendorScope,
  range: Range,
  kind: Schema.optional(Schema.Literal("request_blocked", "solvency_alert")),
  severity: Schema.optional(Schema.String),
  agentId: Schema.optional(Schema.String),
  limit: Schema.Int,
  after: Schema.UndefinedOr(AlertAfter)
})
export type AlertsInput = typeof AlertsInput.Type

const BLOCKED_COLUMNS = `'request_blocked' AS kind, 1 AS rank, rfc3339_utc(x.event_time) AS event_time, x.gateway_id,
  x.agent_id, x.severity, x.reason, x.request_id, x.method, x.route, x.detail, x.client_ip,
  NULL::text AS asset, NULL::text AS network, NULL::text AS balance, NULL::text AS threshold,
  NULL::text AS required, NULL::text AS message, x.seq::text AS seq`

const SOLVENCY_COLUMNS = `'solvency_alert' AS kind, 0 AS rank, rfc3339_utc(x.event_time) AS event_time, x.gateway_id,
  x.agent_id, x.severity, x.kind AS reason, NULL::text AS request_id, NULL::text AS method, NULL::text AS route,
  NULL::text AS detail, NULL::text AS client_ip, x.asset, x.network, ${money("x.balance")} AS balance,
  ${money("x.threshold")} AS threshold, ${money("x.required")} AS required, x.message, x.seq::text AS seq`

const NullableText = Schema.NullOr(Schema.String)

const AlertRow = Schema.Struct({
  kind: Schema.Literal("request_blocked", "solvency_alert"),
  rank: Schema.Int,
  event_time: Schema.String,
  gateway_id: Schema.String,
  agent_id: NullableText,
  severity: Schema.String,
  reason: Schema.String,
  request_id: NullableText,
  method: NullableText,
  route: NullableText,
  detail: NullableText,
  client_ip: NullableText,
  asset: NullableText,
  network: NullableText,
  balance: NullableText,
  threshold: NullableText,
  required: NullableText,
  message: NullableText,
  seq: Schema.String
})
type AlertRow = typeof AlertRow.Type

const toAlert = (r: AlertRow): Alert =>
  r.kind === "request_blocked"
    ? {
      kind: r.kind, event_time: r.event_time, gateway_id: r.gateway_id, agent_id: r.agent_id, severity: r.severity,
      reason: r.reason, request_id: r.request_id ?? "", method: r.method ?? "", route: r.route ?? "",
      detail: r.detail, client_ip: r.client_ip
    }
    : {
      kind: r.kind, event_time: r.event_time, gateway_id: r.gateway_id, agent_id: r.agent_id ?? "",
      severity: r.severity, reason: r.reason, asset: r.asset ?? "", network: r.network ?? "",
      balance: r.balance ?? "0", threshold: r.threshold ?? "0", required: r.required, message: r.message
    }

/** Empty when the filters exclude both sources (no statement runs then). */
const alertsQuery = (sql: SqlClient.SqlClient) =>
  SqlSchema.findAll({
    Request: AlertsInput,
    Result: AlertRow,
    execute: (input) => {
  const { after } = input
  // Keyset on (event_time, rank, seq) becomes, per source of rank r, a condition on (event_time, seq).
  const keyset = (rank: number) =>
    after === undefined
      ? sql.literal("")
      : rank < after[1]
      ? sql`AND x.event_time <= ${after[0]}::timestamptz`
      : rank > after[1]
      ? sql`AND x.event_time < ${after[0]}::timestamptz`
      : sql`AND (x.event_time, x.seq) < (${after[0]}::timestamptz, ${after[2]}::bigint)`
  const severity = andIf(sql, input.severity !== undefined, () => sql`x.severity = ${input.severity}`)
  const sources: Array<Statement.Fragment> = []
  const wants = (kind: AlertKind, severities: ReadonlySet<string>) =>
    (input.kind === undefined || input.kind === kind) &&
    (input.severity === undefined || severities.has(input.severity))
  if (wants("request_blocked", BLOCK_SEVERITIES)) {
    sources.push(newest(sql, input.scope, input.range, input.agentId, input.limit + 1, {
      table: "request_blocked", columns: BLOCKED_COLUMNS, filters: severity, keyset: keyset(RANKS.request_blocked)
    }))
  }
  if (wants("solvency_alert", SOLVENCY_SEVERITIES)) {
    sources.push(newest(sql, input.scope, input.range, input.agentId, input.limit + 1, {
      table: "solvency_alerts", columns: SOLVENCY_COLUMNS, filters: severity, keyset: keyset(RANKS.solvency_alert)
    }))
  }
  if (sources.length === 0) return Effect.succeed([])
  const union = sql.join(" UNION ALL ", false)(sources.map((s) => sql`(${s})`))
  return sql`
    SELECT * FROM (${union}) page ORDER BY sort_time DESC, rank DESC, sort_seq DESC LIMIT ${input.limit + 1}`
    }
  })

const make = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const findPayments = paymentsQuery(sql)
  const findAlerts = alertsQuery(sql)

  const payments = Effect.fn("ConsoleRepo.payments")(function*(input: PaymentsInput) {
    const rows = yield* findPayments(input)
    return rows.map(({ seq, ...payment }) => ({ payment, seq }))
  }, dbFailure)

  const alerts = Effect.fn("ConsoleRepo.alerts")(function*(input: AlertsInput) {
    const rows = yield* findAlerts(input)
    return rows.map((row) => ({ alert: toAlert(row), cursor: [row.event_time, row.rank, row.seq] as const }))
  }, dbFailure)

  return { payments, alerts } as const
})

export class ListsRepo extends Context.Tag("Console/ListsRepo")<ListsRepo, Effect.Effect.Success<typeof make>>() {}

export const ListsRepoLive = Layer.effect(ListsRepo, make)
