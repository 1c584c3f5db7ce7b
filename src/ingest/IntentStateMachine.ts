/**
 * Payment intents as a forward-only state machine, shared by the PostgreSQL and in-memory
 * stores so both resolve out-of-order arrivals the same way:
 *
 * - events of one intent are applied in event-time order (status rank breaks ties);
 * - an event moves the status only to a higher rank (pending 0 → submitted 1 → terminal 2),
 *   so the first terminal status wins and a late "pending" never moves a settled intent back;
 * - every event is recorded as a transition, with `applied` saying whether it moved the status.
 */
import { intentStatusRank, type IntentStatus, type PaymentIntent } from "../../schema/index.js"
import type { IngestEvent } from "./IngestEvent.js"

export interface IntentRow {
  readonly gateway_id: string
  readonly intent_id: string
  readonly agent_id: string
  readonly status: IntentStatus
  readonly status_rank: number
  readonly amount: string
  readonly asset: string
  readonly network: string
  readonly method: string | null
  readonly route: string | null
  readonly tx_hash: string | null
  readonly failure_reason: string | null
  readonly expires_at: string | null
  readonly created_at: string
  readonly updated_at: string
  readonly last_event_time: string
  readonly received_at: string
}

export interface Transition {
  readonly gateway_id: string
  readonly intent_id: string
  readonly source: string
  readonly event_id: string
  readonly event_time: string
  readonly received_at: string
  readonly from_status: IntentStatus | null
  readonly to_status: IntentStatus
  readonly applied: boolean
}

export interface IntentEvent {
  readonly event: IngestEvent
  readonly data: PaymentIntent
}

export const intentKey = (gatewayId: string, intentId: string): string => `${gatewayId}\u0000${intentId}`

const earlier = (a: string, b: string): string => (Date.parse(a) <= Date.parse(b) ? a : b)
const later = (a: string, b: string): string => (Date.parse(a) >= Date.parse(b) ? a : b)

const fresh = ({ data, event }: IntentEvent): IntentRow => ({
  gateway_id: data.gateway_id,
  intent_id: data.intent_id,
  agent_id: data.agent_id,
  status: data.status,
  status_rank: intentStatusRank(data.status),
  amount: data.amount,
  asset: data.asset,
  network: data.network,
  method: data.method ?? null,
  route: data.route ?? null,
  tx_hash: data.tx_hash ?? null,
  failure_reason: data.failure_reason ?? null,
  expires_at: data.expires_at ?? null,
  created_at: event.time,
  updated_at: event.time,
  last_event_time: event.time,
  received_at: new Date(event.receivedAt).toISOString()
})

/**
 * Applies `events` (new, deduplicated) on top of `current` (the stored rows of the intents
 * they touch). Returns the rows to upsert and the transitions to record.
 */
export const foldIntents = (
  current: ReadonlyMap<string, IntentRow>,
  events: ReadonlyArray<IntentEvent>
): { readonly rows: ReadonlyArray<IntentRow>; readonly transitions: ReadonlyArray<Transition> } => {
  const ordered = [...events].sort((a, b) =>
    a.event.timeMs - b.event.timeMs || intentStatusRank(a.data.status) - intentStatusRank(b.data.status)
  )
  const rows = new Map<string, IntentRow>()
  const transitions: Array<Transition> = []
  for (const item of ordered) {
    const { data, event } = item
    const key = intentKey(data.gateway_id, data.intent_id)
    const before = rows.get(key) ?? current.get(key)
    const rank = intentStatusRank(data.status)
    const applied = before === undefined || rank > before.status_rank
    const next: IntentRow = before === undefined
      ? fresh(item)
      : {
        ...before,
        created_at: earlier(before.created_at, event.time),
        last_event_time: later(before.last_event_time, event.time),
        ...(applied
          ? {
            status: data.status,
            status_rank: rank,
            updated_at: event.time,
            tx_hash: data.tx_hash ?? before.tx_hash,
            failure_reason: data.failure_reason ?? before.failure_reason,
            expires_at: data.expires_at ?? before.expires_at,
            received_at: new Date(event.receivedAt).toISOString()
          }
          : {})
      }
    rows.set(key, next)
    transitions.push({
      gateway_id: data.gateway_id,
      intent_id: data.intent_id,
      source: event.source,
      event_id: event.id,
      event_time: event.time,
      received_at: new Date(event.receivedAt).toISOString(),
      from_status: before?.status ?? null,
      to_status: data.status,
      applied
    })
  }
  return { rows: [...rows.values()], transitions }
}
