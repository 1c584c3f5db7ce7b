/** Zero-loss verification and the raw COPY ceiling, for the ingest benchmark. */
import pg from "pg"
import { from as copyFrom, to as copyTo } from "pg-copy-streams"
import { postgresCpuSeconds } from "./cpu.js"
import { pipeline } from "node:stream/promises"
import { Readable, Writable } from "node:stream"

const TYPED: Record<string, string> = {
  PaymentAuthorized: "payment_authorized",
  RequestBlocked: "request_blocked",
  SolvencyAlert: "solvency_alerts",
  PaymentIntent: "payment_intent_transitions",
  GatewayTelemetryPacket: "gateway_telemetry"
}

/** Every accepted event is stored exactly once: counts, distinct ids and an id checksum per type. */
export const verifyStored = async (
  db: pg.Pool,
  accepted: ReadonlyMap<string, ReadonlySet<string>>,
  idSum: (ids: Iterable<string>) => bigint
) => {
  const lines: Array<string> = []
  let ok = true
  const { rows: totals } = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM telemetry_events")
  const acceptedTotal = [...accepted.values()].reduce((n, ids) => n + ids.size, 0)
  if (totals[0]?.n !== acceptedTotal) ok = false
  lines.push(`raw log ${totals[0]?.n}/${acceptedTotal}`)
  for (const [type, ids] of accepted) {
    const { rows } = await db.query<{ n: number; d: number; s: string | null }>(
      `SELECT count(*)::int AS n, count(DISTINCT (source, id))::int AS d,
              sum(('x' || substr(md5(id), 1, 12))::bit(48)::bigint)::text AS s
         FROM telemetry_events WHERE type = $1`,
      [type]
    )
    const row = rows[0]!
    const checksumOk = BigInt(row.s ?? "0") === idSum(ids)
    let typedOk = true
    const table = TYPED[type]
    if (table) {
      const { rows: typed } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)
      typedOk = typed[0]?.n === ids.size
    }
    const good = row.n === ids.size && row.d === row.n && checksumOk && typedOk
    ok &&= good
    lines.push(`${type} ${row.n}/${ids.size}${good ? "" : ` (distinct ${row.d}, checksum ${checksumOk}, typed ${typedOk})`}`)
  }
  return { ok, lines }
}

const COPIES: ReadonlyArray<readonly [string, string]> = [
  ["telemetry_events", "event_time, source, id, type, gateway_id, subject, received_at, attributes, data"],
  ["payment_authorized", "event_time, received_at, source, event_id, gateway_id, agent_id, payment_id, request_id, method, route, amount, asset, network, payer, pay_to, scheme"],
  ["request_blocked", "event_time, received_at, source, event_id, gateway_id, agent_id, request_id, method, route, reason, severity, detail, client_ip"],
  ["solvency_alerts", "event_time, received_at, source, event_id, gateway_id, agent_id, kind, severity, asset, network, balance, threshold, required, message"],
  ["payment_intent_transitions", "gateway_id, intent_id, source, event_id, event_time, received_at, from_status, to_status, applied"],
  ["gateway_telemetry", "window_start, gateway_id, source, event_id, received_at, window_seconds, gateway_version, requests_total, requests_paid, requests_blocked, requests_error, payments_count, unique_agents, revenue, asset, latency_p50_ms, latency_p90_ms, latency_p95_ms, latency_p99_ms, latency_max_ms, routes, config"]
]

/**
 * The same rows the pipeline wrote, COPYed straight into empty tables of the same shape (keys
 * and indexes included), one connection per table in parallel, timed. No parsing, no
 * validation, no HTTP: the most the database takes for this workload on this machine.
 */
export const copyCeiling = async (db: pg.Pool, events: number) => {
  const exports = await Promise.all(COPIES.map(async ([table, columns]) => {
    const client = await db.connect()
    try {
      await client.query(`DROP TABLE IF EXISTS ceiling_${table}`)
      await client.query(`CREATE TABLE ceiling_${table} (LIKE ${table} INCLUDING ALL)`)
      const chunks: Array<Buffer> = []
      await pipeline(client.query(copyTo(`COPY (SELECT ${columns} FROM ${table}) TO STDOUT`)), new Writable({
        write(chunk: Buffer, _enc, done) {
          chunks.push(chunk)
          done()
        }
      }))
      return { table, columns, data: Buffer.concat(chunks) }
    } finally {
      client.release()
    }
  }))
  const rows = exports.reduce((n, e) => n + e.data.toString().split("\n").length - 1, 0)
  const cpuBefore = postgresCpuSeconds()
  const started = performance.now()
  await Promise.all(exports.map(async ({ table, columns, data }) => {
    const client = await db.connect()
    try {
      await pipeline(Readable.from([data]), client.query(copyFrom(`COPY ceiling_${table} (${columns}) FROM STDIN`)))
    } finally {
      client.release()
    }
  }))
  const seconds = (performance.now() - started) / 1000
  const postgresCpu = postgresCpuSeconds() - cpuBefore
  await Promise.all(COPIES.map(([table]) => db.query(`DROP TABLE IF EXISTS ceiling_${table}`)))
  return { rows, seconds, eventsPerSecond: events / seconds, postgresMicrosPerEvent: (1e6 * postgresCpu) / events }
}
