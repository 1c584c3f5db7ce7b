/** Committed events as the hub receives them, for the in-memory tests. */
import {
  gatewayTelemetryPacketData,
  paymentAuthorizedData,
  requestBlockedData,
  solvencyAlertData
} from "../../schema/examples.js"
import type { IngestEvent } from "../../src/ingest/IngestEvent.js"
import type { LiveEventInput } from "../../src/realtime/Topics.js"

const event = (type: string, gateway: string, id: string, data: unknown): LiveEventInput => ({
  source: `machpay://gateway/${gateway}`,
  id,
  type,
  time: "2025-06-01T12:00:00Z",
  gatewayId: gateway,
  subject: undefined,
  data
})

export const payment = (gateway: string, agent: string, id: string, amount = "0.25"): LiveEventInput =>
  event("PaymentAuthorized", gateway, id, { ...paymentAuthorizedData, gateway_id: gateway, agent_id: agent, amount })

export const blocked = (gateway: string, agent: string, id: string): LiveEventInput =>
  event("RequestBlocked", gateway, id, { ...requestBlockedData, gateway_id: gateway, agent_id: agent })

export const alert = (gateway: string, agent: string, id: string): LiveEventInput =>
  event("SolvencyAlert", gateway, id, { ...solvencyAlertData, gateway_id: gateway, agent_id: agent })

export const packet = (gateway: string, id: string): LiveEventInput =>
  event("GatewayTelemetryPacket", gateway, id, { ...gatewayTelemetryPacketData, gateway_id: gateway })

export const unknownType = (gateway: string, id: string): LiveEventInput =>
  event("com.example.GatewayRestarted", gateway, id, { uptime_s: 0 })

/** The pipeline's shape of a committed event (the hub reads only the `LiveEventInput` part). */
export const asIngestEvent = (event: LiveEventInput): IngestEvent => ({
  ...event,
  timeMs: Date.parse(event.time),
  receivedAt: Date.now(),
  attributes: {},
  known: undefined
})
