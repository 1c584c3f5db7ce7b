/**
 * One realistic, valid example per event type, in wire form (what a gateway
 * posts). Shared by tests, the load generator and the docs.
 */
import type { CloudEventJson } from "./CloudEvent.js"
import type {
  EventType,
  GatewayTelemetryPacket,
  PaymentAuthorized,
  PaymentIntent,
  RequestBlocked,
  SolvencyAlert
} from "./events/index.js"

const gateway = "gw-eu-1"
const source = `machpay://gateway/${gateway}`
const agent = "agent-7f3a"

export const paymentAuthorizedData = {
  gateway_id: gateway,
  payment_id: "pay_01HZX8K2M4Q7R9T1V3W5Y7A9C1",
  request_id: "req_01HZX8K2M3N5P7Q9S1T3V5X7Z9",
  agent_id: agent,
  method: "GET",
  route: "/v1/weather/{city}",
  amount: "0.25",
  asset: "USDC",
  network: "base",
  payer: "0x4b1e9a3c2d5f6e7a8b9c0d1e2f3a4b5c6d7e8f90",
  pay_to: "0x9f8e7d6c5b4a39281706f5e4d3c2b1a098765432",
  scheme: "exact"
} satisfies typeof PaymentAuthorized.Encoded

export const requestBlockedData = {
  gateway_id: gateway,
  request_id: "req_01HZX8M0A2C4E6G8J0L2N4Q6S8",
  agent_id: agent,
  method: "POST",
  route: "/v1/translate",
  reason: "insufficient_funds",
  severity: "medium",
  detail: "payment of 0.50 USDC exceeds balance 0.12 USDC",
  client_ip: "203.0.113.42"
} satisfies typeof RequestBlocked.Encoded

export const solvencyAlertData = {
  gateway_id: gateway,
  agent_id: agent,
  kind: "low_balance",
  severity: "warning",
  asset: "USDC",
  network: "base",
  balance: "1.75",
  threshold: "5",
  message: "agent balance below 5 USDC"
} satisfies typeof SolvencyAlert.Encoded

export const paymentIntentData = {
  gateway_id: gateway,
  intent_id: "int_01HZX8N4B6D8F0H2K4M6P8R0T2",
  agent_id: agent,
  status: "submitted",
  amount: "12.5",
  asset: "USDC",
  network: "base",
  method: "POST",
  route: "/v1/batch/render",
  tx_hash: "0x5c504ed432cb51138bcf09aa5e8a410dd4a1e204ef84bfed1be16dfba1b22060",
  expires_at: "2025-06-01T12:15:00Z"
} satisfies typeof PaymentIntent.Encoded

export const gatewayTelemetryPacketData = {
  gateway_id: gateway,
  packet_id: "pkt_gw-eu-1_1748779200",
  window_start: "2025-06-01T12:00:00Z",
  window_seconds: 60,
  gateway_version: "1.4.2",
  requests_total: 1250,
  requests_paid: 1180,
  requests_blocked: 42,
  requests_error: 3,
  payments_count: 1180,
  unique_agents: 37,
  revenue: "295.000000",
  asset: "USDC",
  latency_ms: { p50: 18.5, p90: 41, p95: 57.2, p99: 120, max: 310 },
  routes: [
    {
      method: "GET",
      route: "/v1/weather/{city}",
      requests: 1000,
      paid: 960,
      blocked: 38,
      errors: 2,
      revenue: "240",
      latency_p50_ms: 15,
      latency_p99_ms: 98
    },
    {
      method: "POST",
      route: "/v1/translate",
      requests: 250,
      paid: 220,
      blocked: 4,
      errors: 1,
      revenue: "55",
      latency_p50_ms: 35.5,
      latency_p99_ms: 180
    }
  ],
  config: {
    revision: "cfg-2025-06-01-01",
    settings: {
      relayer_url: "https://relayer.machpay.example/v1",
      prices: { "GET /v1/weather/{city}": "0.25", "POST /v1/translate": "0.25" }
    }
  }
} satisfies typeof GatewayTelemetryPacket.Encoded

const envelope = <T extends EventType, D>(type: T, id: string, time: string, data: D) =>
  ({
    specversion: "1.0",
    id,
    source,
    type,
    time,
    datacontenttype: "application/json",
    traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    data
  }) satisfies CloudEventJson

/** A valid wire event per known type, keyed by type. */
export const exampleEvents = {
  PaymentAuthorized: envelope("PaymentAuthorized", "evt-0001", "2025-06-01T12:00:01.250Z", paymentAuthorizedData),
  RequestBlocked: envelope("RequestBlocked", "evt-0002", "2025-06-01T12:00:02Z", requestBlockedData),
  SolvencyAlert: envelope("SolvencyAlert", "evt-0003", "2025-06-01T12:00:03Z", solvencyAlertData),
  PaymentIntent: envelope("PaymentIntent", "evt-0004", "2025-06-01T12:00:04+02:00", paymentIntentData),
  GatewayTelemetryPacket: envelope("GatewayTelemetryPacket", "evt-0005", "2025-06-01T12:01:00Z", gatewayTelemetryPacketData)
} as const satisfies { readonly [T in EventType]: CloudEventJson }

/** A valid event of a type the server does not know (stored raw only), with a custom extension. */
export const exampleUnknownEvent = {
  specversion: "1.0",
  id: "evt-0100",
  source,
  type: "com.example.GatewayRestarted",
  time: "2025-06-01T12:05:00Z",
  region: "eu1",
  attempt: 1,
  data: { uptime_s: 0 }
} satisfies CloudEventJson

/** A valid batch (application/cloudevents-batch+json). */
export const exampleBatch: ReadonlyArray<CloudEventJson> = [...Object.values(exampleEvents), exampleUnknownEvent]
