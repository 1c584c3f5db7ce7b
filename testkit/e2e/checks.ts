/**
 * The e2e verdicts, each a line and a pass/fail: stored exactly once (per type: rows, distinct
 * keys, id checksum against what the simulator saw acknowledged), delivery to every subscriber
 * (count and id checksum against what its topics cover in the database, nothing foreign, no
 * reset, never cut off), and the console's figures against what the simulator sent.
 */
import pg from "pg"
import { fromMicros } from "../../gateway/index.js"
import { acked, type Report } from "../sim/report.js"
import type { Received } from "./subscribers.js"

export interface Check {
  readonly name: string
  readonly ok: boolean
  readonly detail: string
}

const ID_SUM = "coalesce(sum(('x' || substr(md5(id), 1, 12))::bit(48)::bigint), 0)::text"
const AGENT_TYPES = "('PaymentAuthorized', 'RequestBlocked', 'SolvencyAlert', 'PaymentIntent')"

export const storedOnce = async (db: pg.Pool, report: Report): Promise<Array<Check>> => {
  const { rows } = await db.query<{ type: string; n: number; d: number; s: string }>(
    `SELECT type, count(*)::int AS n, count(DISTINCT (source, id))::int AS d, ${ID_SUM} AS s FROM telemetry_events GROUP BY type`
  )
  const stored = new Map(rows.map((r) => [r.type, r]))
  const types = new Set([...stored.keys(), ...Object.keys(report.byType)])
  const checks: Array<Check> = [...types].sort().map((type) => {
    const row = stored.get(type)
    const sent = report.byType[type]
    const ok = row !== undefined && sent !== undefined && row.n === sent.acked && row.d === row.n && BigInt(row.s) === BigInt(sent.idSum)
    return { name: `stored once: ${type}`, ok, detail: `${row?.n ?? 0} rows / ${sent?.acked ?? 0} acked (distinct ${row?.d ?? 0}, checksum ${row !== undefined && sent !== undefined && BigInt(row.s) === BigInt(sent.idSum) ? "equal" : "DIFFERENT"})` }
  })
  const total = rows.reduce((n, r) => n + r.n, 0)
  checks.unshift({ name: "stored once: all", ok: total === acked(report), detail: `${total} rows / ${acked(report)} acked` })
  return checks
}

/** What each subscriber should have received, from the committed rows. */
const expectedFor = async (db: pg.Pool, r: Received): Promise<{ n: number; s: bigint }> => {
  const where = r.spec.kind === "ticker"
    ? { sql: "type = 'PaymentAuthorized'", args: [] }
    : r.spec.kind === "vendor"
    ? { sql: "gateway_id = $1", args: [r.spec.key] }
    : { sql: `data->>'agent_id' = $1 AND type IN ${AGENT_TYPES}`, args: [r.spec.key] }
  const { rows } = await db.query<{ n: number; s: string }>(`SELECT count(*)::int AS n, ${ID_SUM} AS s FROM telemetry_events WHERE ${where.sql}`, where.args)
  return { n: rows[0]?.n ?? 0, s: BigInt(rows[0]?.s ?? "0") }
}

/** Waits (up to `timeoutMs`) for the subscribers to catch up, then judges each. */
export const delivered = async (db: pg.Pool, received: ReadonlyArray<Received>, timeoutMs: number): Promise<Array<Check>> => {
  const expected = await Promise.all(received.map((r) => expectedFor(db, r)))
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline && received.some((r, i) => r.messages < expected[i]!.n && !r.ended)) {
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  return received.map((r, i) => {
    const e = expected[i]!
    const sumOk = r.spec.kind === "ticker" || r.idSum === e.s
    const ok = r.messages === e.n && sumOk && r.foreign === 0 && r.resets === 0 && !r.ended
    return {
      name: `delivered: ${r.spec.name}`,
      ok,
      detail: `${r.messages}/${e.n}${r.spec.kind === "ticker" ? "" : `, checksum ${sumOk ? "equal" : "DIFFERENT"}`}, foreign ${r.foreign}, resets ${r.resets}${r.ended ? ", CUT OFF" : ""}`
    }
  })
}

export interface Figures {
  readonly metrics: { readonly totals: { readonly requests: number; readonly paid: number; readonly blocked: number; readonly errors: number } }
  readonly stats: {
    readonly payments: number
    readonly revenue: ReadonlyArray<{ readonly asset: string; readonly amount: string }>
    readonly blocked_requests: number
    readonly requests: number
    readonly errors: number
  }
}

export const figuresMatch = (figures: Figures, report: Report): Array<Check> => {
  const t = figures.metrics.totals
  const p = report.packets
  const revenue = figures.stats.revenue.find((r) => r.asset === "USDC")?.amount ?? "0"
  const sentRevenue = fromMicros(BigInt(report.payments.revenueMicros))
  const same = (a: string, b: string) => Number(a) === Number(b)
  return [
    {
      name: "metrics: /v1/vendor/metrics totals = packets sent",
      ok: t.requests === p.requests && t.paid === p.paid && t.blocked === p.blocked && t.errors === p.errors,
      detail: `requests ${t.requests}/${p.requests}, paid ${t.paid}/${p.paid}, blocked ${t.blocked}/${p.blocked}, errors ${t.errors}/${p.errors}`
    },
    {
      name: "metrics: /v1/vendor/stats = events and packets sent",
      ok: figures.stats.payments === report.payments.count && same(revenue, sentRevenue) && figures.stats.blocked_requests === report.blocked &&
        figures.stats.requests === p.requests && figures.stats.errors === p.errors,
      detail: `payments ${figures.stats.payments}/${report.payments.count}, revenue ${revenue}/${sentRevenue} USDC, blocked ${figures.stats.blocked_requests}/${report.blocked}, ` +
        `requests ${figures.stats.requests}/${p.requests}, errors ${figures.stats.errors}/${p.errors}`
    },
    { name: "simulator: per-route stats add up to packet totals", ok: p.routesAddUp, detail: `${p.count} packets, ${p.withConfig} with config` }
  ]
}
