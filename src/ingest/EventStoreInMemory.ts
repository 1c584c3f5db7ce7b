/**
 * In-memory `EventStore` with the same semantics as the PostgreSQL one (dedupe by source + id,
 * forward-only intents via the shared state machine), for unit tests. `failNext`
 * makes the next writes fail, to exercise retries.
 */
import { Context, Effect, Layer } from "effect"
import { type DeadLetter, EventStore, type GatewaySeen, StoreError } from "./EventStore.js"
import { eventKey, type IngestEvent, type Route } from "./IngestEvent.js"
import { foldIntents, type IntentEvent, type IntentRow, intentKey, type Transition } from "./IntentStateMachine.js"

export interface InMemoryTables {
  readonly raw: Map<string, IngestEvent>
  readonly typed: Map<Route, Array<IngestEvent>>
  readonly intents: Map<string, IntentRow>
  readonly transitions: Array<Transition>
  readonly deadLetters: Array<DeadLetter>
  readonly gateways: Map<string, GatewaySeen>
  /** Every write call, in order: which route, how many events. */
  readonly writes: Array<{ readonly route: Route; readonly size: number }>
  failNext: number
}

export class InMemoryStore extends Context.Tag("Ingest/InMemoryStore")<InMemoryStore, InMemoryTables>() {}

export const makeTables = (): InMemoryTables => ({
  raw: new Map(),
  typed: new Map(),
  intents: new Map(),
  transitions: [],
  deadLetters: [],
  gateways: new Map(),
  writes: [],
  failNext: 0
})

const fail = (tables: InMemoryTables) => {
  if (tables.failNext <= 0) return false
  tables.failNext -= 1
  return true
}

const write = (tables: InMemoryTables, route: Route, events: ReadonlyArray<IngestEvent>) => {
  tables.writes.push({ route, size: events.length })
  const inserted = new Set<string>()
  for (const event of events) {
    const rawKey = eventKey(event)
    if (tables.raw.has(rawKey)) continue
    tables.raw.set(rawKey, event)
    inserted.add(eventKey(event))
    if (route !== "Other" && route !== "PaymentIntent") tables.typed.set(route, [...(tables.typed.get(route) ?? []), event])
  }
  const fresh: Array<IntentEvent> = events.flatMap((event) =>
    inserted.has(eventKey(event)) && event.known?.type === "PaymentIntent" ? [{ event, data: event.known.data }] : []
  )
  const { rows, transitions } = foldIntents(tables.intents, fresh)
  for (const row of rows) tables.intents.set(intentKey(row.gateway_id, row.intent_id), row)
  tables.transitions.push(...transitions)
  return { inserted }
}

export const EventStoreInMemory = Layer.effect(
  EventStore,
  Effect.gen(function*() {
    const tables = yield* InMemoryStore
    const guarded = <A>(f: () => A) =>
      Effect.suspend(() => (fail(tables) ? Effect.fail(new StoreError({ message: "injected failure" })) : Effect.sync(f)))
    return {
      write: (route, events) => guarded(() => write(tables, route, events)),
      deadLetter: (rows) => guarded(() => void tables.deadLetters.push(...rows)),
      touchGateways: (seen) =>
        guarded(() => {
          for (const [id, value] of seen) tables.gateways.set(id, value)
        })
    }
  })
).pipe(Layer.provideMerge(Layer.sync(InMemoryStore, makeTables)))
