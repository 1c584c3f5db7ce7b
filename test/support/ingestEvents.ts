/**
 * Wire-form CloudEvents for the ingest tests (unit, PostgreSQL and end to end): the valid
 * examples of `schema/examples.ts`, re-addressed to any gateway, id and time.
 */
import {
  gatewayTelemetryPacketData,
  paymentAuthorizedData,
  paymentIntentData,
  requestBlockedData,
  solvencyAlertData
} from "../../schema/examples.js"
import type { EventType } from "../../schema/index.js"

export type WireEvent = Record<string, unknown>

const BASE_DATA: { readonly [T in EventType]: Readonly<Record<string, unknown>> } = {
  PaymentAuthorized: paymentAuthorizedData,
  RequestBlocked: requestBlockedData,
  SolvencyAlert: solvencyAlertData,
  PaymentIntent: paymentIntentData,
  GatewayTelemetryPacket: gatewayTelemetryPacketData
}

export const sourceOf = (gateway: string): string => `machpay://gateway/${gateway}`

export interface EventAddress {
  readonly id: string
  readonly time: string
  readonly gateway?: string
}

/** A valid event of a known type; `data` overrides are merged over the example data. */
export const wireEvent = (type: EventType, address: EventAddress, data: Readonly<Record<string, unknown>> = {}): WireEvent => {
  const gateway = address.gateway ?? "gw-eu-1"
  return {
    specversion: "1.0",
    id: address.id,
    source: sourceOf(gateway),
    type,
    time: address.time,
    datacontenttype: "application/json",
    data: { ...BASE_DATA[type], gateway_id: gateway, ...data }
  }
}

/** A telemetry packet event whose window starts at `address.time`. */
export const wirePacket = (address: EventAddress, data: Readonly<Record<string, unknown>> = {}): WireEvent =>
  wireEvent("GatewayTelemetryPacket", address, { window_start: address.time, packet_id: `pkt-${address.id}`, ...data })

/** A payment intent event in the given status. */
export const wireIntent = (
  address: EventAddress,
  intentId: string,
  status: "pending" | "submitted" | "settled" | "failed" | "expired",
  data: Readonly<Record<string, unknown>> = {}
): WireEvent => {
  // Only what the status implies: no tx_hash unless given (the example's is for "submitted").
  const { tx_hash: _tx, ...base } = paymentIntentData
  const event = wireEvent("PaymentIntent", address)
  return { ...event, data: { ...base, gateway_id: address.gateway ?? "gw-eu-1", intent_id: intentId, status, ...data } }
}

/** An event of a type the server does not know (stored raw only); `time` is optional for it. */
export const wireUnknown = (address: { readonly id: string; readonly time?: string; readonly gateway?: string }): WireEvent => ({
  specversion: "1.0",
  id: address.id,
  source: sourceOf(address.gateway ?? "gw-eu-1"),
  type: "com.example.GatewayRestarted",
  ...(address.time === undefined ? {} : { time: address.time }),
  region: "eu1",
  attempt: 1,
  data: { uptime_s: 0 }
})

/** One valid event of every known type plus one unknown, ids `${prefix}-1` … `${prefix}-6`. */
export const wireBatch = (prefix: string, time: string, gateway?: string): Array<WireEvent> => {
  const at = (n: number) => ({ id: `${prefix}-${n}`, time, ...(gateway === undefined ? {} : { gateway }) })
  return [
    wireEvent("PaymentAuthorized", at(1)),
    wireEvent("RequestBlocked", at(2)),
    wireEvent("SolvencyAlert", at(3)),
    wireIntent(at(4), `int-${prefix}`, "submitted"),
    wirePacket(at(5)),
    wireUnknown(at(6))
  ]
}
