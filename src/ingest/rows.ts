/** The typed-table columns of an event, flat, as the store's JSON batch carries them. */
import type { IngestEvent } from "./IngestEvent.js"

export const typedRow = (event: IngestEvent): Record<string, unknown> => {
  const known = event.known
  if (known === undefined) return {}
  switch (known.type) {
    case "PaymentAuthorized": {
      const d = known.data
      return {
        agent_id: d.agent_id, payment_id: d.payment_id, request_id: d.request_id, method: d.method, route: d.route,
        amount: d.amount, asset: d.asset, network: d.network, payer: d.payer ?? null, pay_to: d.pay_to ?? null,
        scheme: d.scheme ?? null
      }
    }
    case "RequestBlocked": {
      const d = known.data
      return {
        agent_id: d.agent_id ?? null, request_id: d.request_id, method: d.method, route: d.route, reason: d.reason,
        severity: d.severity, detail: d.detail ?? null, client_ip: d.client_ip ?? null
      }
    }
    case "SolvencyAlert": {
      const d = known.data
      return {
        agent_id: d.agent_id, kind: d.kind, severity: d.severity, asset: d.asset, network: d.network,
        balance: d.balance, threshold: d.threshold, required: d.required ?? null, message: d.message ?? null
      }
    }
    case "GatewayTelemetryPacket": {
      const d = known.data
      return {
        window_start: d.window_start, window_seconds: d.window_seconds, gateway_version: d.gateway_version ?? null,
        requests_total: d.requests_total, requests_paid: d.requests_paid, requests_blocked: d.requests_blocked,
        requests_error: d.requests_error, payments_count: d.payments_count, unique_agents: d.unique_agents,
        revenue: d.revenue, asset: d.asset, latency_p50_ms: d.latency_ms.p50, latency_p90_ms: d.latency_ms.p90,
        latency_p95_ms: d.latency_ms.p95, latency_p99_ms: d.latency_ms.p99, latency_max_ms: d.latency_ms.max,
        routes: d.routes, config: d.config ?? null
      }
    }
    case "PaymentIntent":
      return {}
  }
}
