/**
 * The forward-only payment intent machine shared by both stores: in-order and out-of-order
 * arrivals (within a batch and across batches) end in the same state, the first terminal
 * status wins, and every event is recorded as a transition saying whether it applied.
 */
import { describe, expect, it } from "@effect/vitest"
import { foldIntents, type IntentRow, intentKey, type Transition } from "../../src/ingest/IntentStateMachine.js"
import { wireIntent } from "../support/ingestEvents.js"
import { GATEWAY, toIngestEvent, toIntentEvent } from "./support.js"

type Status = "pending" | "submitted" | "settled" | "failed" | "expired"

const T1 = "2025-06-01T12:00:01Z"
const T2 = "2025-06-01T12:00:02Z"
const T3 = "2025-06-01T12:00:03Z"
const T4 = "2025-06-01T12:00:04Z"

let counter = 0
const intent = (
  status: Status,
  time: string,
  options: { readonly intentId?: string; readonly gateway?: string; readonly receivedAt?: number; readonly data?: Record<string, unknown> } = {}
) => {
  const gateway = options.gateway ?? GATEWAY
  const wire = wireIntent({ id: `evt-${++counter}-${status}`, time, gateway }, options.intentId ?? "int-1", status, options.data ?? {})
  return toIntentEvent(toIngestEvent(wire, { gatewayId: gateway, ...(options.receivedAt === undefined ? {} : { receivedAt: options.receivedAt }) }))
}

/** Applies batches one after the other, like successive flushes against a stored table. */
const applyBatches = (batches: ReadonlyArray<ReadonlyArray<ReturnType<typeof intent>>>) => {
  const table = new Map<string, IntentRow>()
  const transitions: Array<Transition> = []
  for (const batch of batches) {
    const result = foldIntents(table, batch)
    for (const row of result.rows) table.set(intentKey(row.gateway_id, row.intent_id), row)
    transitions.push(...result.transitions)
  }
  return { table, transitions }
}

const only = (table: ReadonlyMap<string, IntentRow>, intentId = "int-1", gateway = GATEWAY): IntentRow => {
  const row = table.get(intentKey(gateway, intentId))
  if (row === undefined) throw new Error(`no row for ${gateway}/${intentId}`)
  return row
}

const summary = (transitions: ReadonlyArray<Transition>) =>
  transitions.map((t) => `${t.from_status ?? "∅"}→${t.to_status}${t.applied ? "" : " (ignored)"}`)

describe("payment intent state machine", () => {
  it("in order: each event moves the status forward", () => {
    const pending = intent("pending", T1, { receivedAt: Date.parse("2025-06-01T12:05:01Z") })
    const submitted = intent("submitted", T2, { data: { tx_hash: "0xabc" } })
    const settled = intent("settled", T3, { receivedAt: Date.parse("2025-06-01T12:05:03Z") })
    for (const batches of [[[pending, submitted, settled]], [[pending], [submitted], [settled]]]) {
      const { table, transitions } = applyBatches(batches)
      expect(table.size).toBe(1)
      expect(only(table)).toMatchObject({
        status: "settled",
        status_rank: 2,
        created_at: T1,
        updated_at: T3,
        last_event_time: T3,
        tx_hash: "0xabc",
        received_at: "2025-06-01T12:05:03.000Z",
        amount: "12.5",
        agent_id: "agent-7f3a"
      })
      expect(summary(transitions)).toEqual(["∅→pending", "pending→submitted", "submitted→settled"])
    }
  })

  it("out of order in one batch: applied in event-time order", () => {
    const { table, transitions } = applyBatches([[intent("settled", T3), intent("pending", T1), intent("submitted", T2)]])
    expect(only(table)).toMatchObject({ status: "settled", created_at: T1, updated_at: T3, last_event_time: T3 })
    expect(summary(transitions)).toEqual(["∅→pending", "pending→submitted", "submitted→settled"])
  })

  it("out of order across batches: settled before pending stays settled, created_at is the earliest", () => {
    const { table, transitions } = applyBatches([[intent("settled", T3)], [intent("pending", T1)], [intent("submitted", T2)]])
    expect(only(table)).toMatchObject({ status: "settled", status_rank: 2, created_at: T1, updated_at: T3, last_event_time: T3 })
    expect(summary(transitions)).toEqual(["∅→settled", "settled→pending (ignored)", "settled→submitted (ignored)"])
  })

  it("a late lower status moves last_event_time but not the status", () => {
    const { table, transitions } = applyBatches([[intent("submitted", T2)], [intent("pending", T4)]])
    expect(only(table)).toMatchObject({ status: "submitted", updated_at: T2, created_at: T2, last_event_time: T4 })
    expect(transitions.map((t) => t.applied)).toEqual([true, false])
  })

  it("the first terminal status wins", () => {
    const across = applyBatches([[intent("settled", T2)], [intent("failed", T3, { data: { failure_reason: "reverted" } })]])
    expect(only(across.table)).toMatchObject({ status: "settled", updated_at: T2, failure_reason: null, last_event_time: T3 })
    expect(summary(across.transitions)).toEqual(["∅→settled", "settled→failed (ignored)"])

    // Within a batch "first" is by event time, not by position.
    const within = applyBatches([[intent("expired", T4), intent("failed", T3), intent("submitted", T1)]])
    expect(only(within.table)).toMatchObject({ status: "failed", updated_at: T3, last_event_time: T4 })
    expect(summary(within.transitions)).toEqual(["∅→submitted", "submitted→failed", "failed→expired (ignored)"])
  })

  it("a repeated status is recorded but does not apply", () => {
    const { table, transitions } = applyBatches([[intent("submitted", T1)], [intent("submitted", T2, { data: { tx_hash: "0xnew" } })]])
    expect(only(table)).toMatchObject({ status: "submitted", updated_at: T1, tx_hash: null })
    expect(transitions.map((t) => t.applied)).toEqual([true, false])
  })

  it("records every event as a transition, with its identity and times", () => {
    const events = [intent("pending", T1), intent("settled", T3), intent("submitted", T2), intent("failed", T4)]
    const { transitions } = applyBatches([events.slice(0, 2), events.slice(2)])
    expect(transitions).toHaveLength(events.length)
    expect(new Set(transitions.map((t) => t.event_id))).toEqual(new Set(events.map((e) => e.event.id)))
    for (const t of transitions) {
      const source = events.find((e) => e.event.id === t.event_id)!
      expect(t).toMatchObject({
        gateway_id: GATEWAY,
        intent_id: "int-1",
        source: source.event.source,
        event_time: source.event.time,
        received_at: new Date(source.event.receivedAt).toISOString(),
        to_status: source.data.status
      })
    }
    expect(summary(transitions)).toEqual([
      "∅→pending",
      "pending→settled",
      "settled→submitted (ignored)",
      "settled→failed (ignored)"
    ])
  })

  it("keeps intents apart by gateway and intent id", () => {
    const { table } = applyBatches([[
      intent("settled", T2, { intentId: "int-a" }),
      intent("pending", T1, { intentId: "int-b" }),
      intent("pending", T1, { intentId: "int-a", gateway: "gw-us-2" })
    ]])
    expect(table.size).toBe(3)
    expect(only(table, "int-a").status).toBe("settled")
    expect(only(table, "int-b").status).toBe("pending")
    expect(only(table, "int-a", "gw-us-2").status).toBe("pending")
  })

  it("returns only the rows the batch touched", () => {
    const first = foldIntents(new Map(), [intent("pending", T1, { intentId: "int-a" })])
    const current = new Map(first.rows.map((row) => [intentKey(row.gateway_id, row.intent_id), row]))
    const second = foldIntents(current, [intent("submitted", T2, { intentId: "int-b" })])
    expect(second.rows.map((row) => row.intent_id)).toEqual(["int-b"])
    expect(second.transitions).toHaveLength(1)
  })
})
