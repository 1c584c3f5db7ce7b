/** What a simulator run sent and what the receivers acknowledged: mergeable across processes. */
import { createHash } from "node:crypto"
import type { CloudEventJson } from "../../schema/CloudEvent.js"
import type { BatchResult, ClientStats, PacketJson } from "../../gateway/index.js"
import { toMicros } from "../../gateway/index.js"

export interface TypeTally {
  acked: number
  /** Sum of 48-bit prefixes of md5(id) over acknowledged ids, as load/lib/verify.ts checks. */
  idSum: string
  dropped: number
}

export interface Report {
  gateways: number
  seconds: number
  events: number
  byType: Record<string, TypeTally>
  client: { -readonly [K in keyof Omit<ClientStats, "buffered">]: ClientStats[K] }
  packets: { count: number; requests: number; paid: number; blocked: number; errors: number; withConfig: number; routesAddUp: boolean }
  payments: { count: number; revenueMicros: string }
  blocked: number
  rejected: Array<string>
}

export const idHash = (id: string): bigint => BigInt(`0x${createHash("md5").update(id).digest("hex").slice(0, 12)}`)

export const emptyReport = (): Report => ({
  gateways: 0,
  seconds: 0,
  events: 0,
  byType: {},
  client: {
    offered: 0, requests: 0, accepted: 0, duplicate: 0, rejected: 0, retries: { retryAfter: 0, transient: 0 },
    dropped: { buffer_full: 0, gave_up: 0, refused: 0 }, settlement: { ok: 0, failed: 0 }, packets: 0, configsSent: 0
  },
  packets: { count: 0, requests: 0, paid: 0, blocked: 0, errors: 0, withConfig: 0, routesAddUp: true },
  payments: { count: 0, revenueMicros: "0" },
  blocked: 0,
  rejected: []
})

const tally = (report: Report, type: string): TypeTally => (report.byType[type] ??= { acked: 0, idSum: "0", dropped: 0 })

/**
 * Folds one settled batch into the report (the client's `onBatch`). `seen` holds the ids already
 * counted: a batch re-sent after a lost answer may be acknowledged twice, the database keeps one.
 */
export const recordBatch = (report: Report, result: BatchResult, seen: Set<string>): void => {
  if (result._tag === "Dropped") {
    for (const e of result.events) tally(report, e.type).dropped += 1
    return
  }
  const statusOf = new Map<number, string>()
  for (const r of result.response?.results ?? []) {
    statusOf.set(r.index, r.status)
    if (r.status === "rejected" && report.rejected.length < 5) report.rejected.push(`${r.type ?? "?"} ${r.field ?? ""}: ${r.reason ?? ""}`)
  }
  result.events.forEach((e: CloudEventJson, index) => {
    const status = result.response === undefined ? "accepted" : statusOf.get(index)
    if ((status !== "accepted" && status !== "duplicate") || seen.has(e.id)) return
    seen.add(e.id)
    const t = tally(report, e.type)
    t.acked += 1
    t.idSum = (BigInt(t.idSum) + idHash(e.id)).toString()
    const data = e.data as Record<string, unknown>
    if (e.type === "PaymentAuthorized") {
      report.payments.count += 1
      report.payments.revenueMicros = (BigInt(report.payments.revenueMicros) + toMicros(String(data["amount"]))).toString()
    } else if (e.type === "RequestBlocked") {
      report.blocked += 1
    } else if (e.type === "GatewayTelemetryPacket") {
      const p = data as unknown as PacketJson
      report.packets.count += 1
      report.packets.requests += p.requests_total
      report.packets.paid += p.requests_paid
      report.packets.blocked += p.requests_blocked
      report.packets.errors += p.requests_error
      if (p.config !== undefined) report.packets.withConfig += 1
      const routed = p.routes.reduce((n, r) => n + r.requests, 0)
      if (routed !== p.requests_total) report.packets.routesAddUp = false
    }
  })
}

export const mergeReports = (reports: ReadonlyArray<Report>): Report => {
  const out = emptyReport()
  for (const r of reports) {
    out.gateways += r.gateways
    out.seconds = Math.max(out.seconds, r.seconds)
    out.events += r.events
    for (const [type, t] of Object.entries(r.byType)) {
      const m = tally(out, type)
      m.acked += t.acked
      m.dropped += t.dropped
      m.idSum = (BigInt(m.idSum) + BigInt(t.idSum)).toString()
    }
    const c = out.client
    c.offered += r.client.offered
    c.requests += r.client.requests
    c.accepted += r.client.accepted
    c.duplicate += r.client.duplicate
    c.rejected += r.client.rejected
    c.retries = { retryAfter: c.retries.retryAfter + r.client.retries.retryAfter, transient: c.retries.transient + r.client.retries.transient }
    c.dropped = {
      buffer_full: c.dropped.buffer_full + r.client.dropped.buffer_full,
      gave_up: c.dropped.gave_up + r.client.dropped.gave_up,
      refused: c.dropped.refused + r.client.dropped.refused
    }
    c.settlement = { ok: c.settlement.ok + r.client.settlement.ok, failed: c.settlement.failed + r.client.settlement.failed }
    c.packets += r.client.packets
    c.configsSent += r.client.configsSent
    for (const k of ["count", "requests", "paid", "blocked", "errors", "withConfig"] as const) out.packets[k] += r.packets[k]
    out.packets.routesAddUp &&= r.packets.routesAddUp
    out.payments.count += r.payments.count
    out.payments.revenueMicros = (BigInt(out.payments.revenueMicros) + BigInt(r.payments.revenueMicros)).toString()
    out.blocked += r.blocked
    out.rejected.push(...r.rejected.slice(0, 5 - out.rejected.length))
  }
  return out
}

export const totalDrops = (r: Report): number => r.client.dropped.buffer_full + r.client.dropped.gave_up + r.client.dropped.refused

export const acked = (r: Report): number => Object.values(r.byType).reduce((n, t) => n + t.acked, 0)
