/**
 * The hub's fan-out, pure: which of a batch's events a connection gets, and in which form (the
 * full message for its vendor and agent topics, the ticker form otherwise). See Hub.ts for why
 * fan-out is one synchronous loop.
 */
import type { Entry } from "./History.js"
import type { Sink } from "./Hub.js"
import type { TopicSet } from "./Topics.js"

export interface Connection {
  readonly topics: TopicSet
  /** Topic names that get the full event (vendor and agent topics). */
  readonly fullKeys: ReadonlyArray<string>
  /** Streams with equal keys get the same text for a batch. */
  readonly shareKey: string
  readonly sink: Sink
  /** Entries up to this seq were replayed (or predate the stream): skip them live. */
  readonly afterSeq: number
  dropped: boolean
}

const isFull = (entry: Entry, topics: TopicSet): boolean =>
  topics.gateways.has(entry.gatewayId) || (entry.agentId !== undefined && topics.agents.has(entry.agentId))

/** The frame a stream gets for an entry, or undefined when none of its topics covers it. */
export const frameFor = (entry: Entry, topics: TopicSet): string | undefined =>
  isFull(entry, topics) ? entry.full : topics.ticker ? entry.tick : undefined

export const indexByTopic = (entries: ReadonlyArray<Entry>): Map<string, Array<number>> => {
  const index = new Map<string, Array<number>>()
  const add = (topic: string, position: number) => {
    const list = index.get(topic)
    if (list === undefined) index.set(topic, [position])
    else list.push(position)
  }
  entries.forEach((entry, position) => {
    add(`vendor:${entry.gatewayId}`, position)
    if (entry.agentId !== undefined) add(`agent:${entry.agentId}`, position)
    if (entry.onTicker) add("ticker", position)
  })
  return index
}

/** A connection's messages in one batch, in batch order (one message per event). */
export const select = (
  batch: { readonly entries: ReadonlyArray<Entry>; readonly byTopic: ReadonlyMap<string, ReadonlyArray<number>> },
  connection: Connection
): { text: string; messages: number } | undefined => {
  let full: Array<number> = []
  for (const key of connection.fullKeys) {
    const positions = batch.byTopic.get(key)
    if (positions !== undefined) full = full.length === 0 ? positions.slice() : full.concat(positions)
  }
  const ticker = connection.topics.ticker ? batch.byTopic.get("ticker") ?? [] : []
  if (full.length === 0 && ticker.length === 0) return undefined
  const marks = new Map<number, boolean>()
  for (const p of full) marks.set(p, true)
  for (const p of ticker) if (!marks.has(p)) marks.set(p, false)
  const positions = connection.fullKeys.length <= 1 && ticker.length === 0 ? full : [...marks.keys()].sort((a, b) => a - b)
  let text = ""
  let messages = 0
  for (const p of positions) {
    const entry = batch.entries[p]
    if (entry === undefined || entry.seq <= connection.afterSeq) continue
    const frame = marks.get(p) === true ? entry.full : entry.tick
    if (frame === undefined) continue
    text += frame
    messages += 1
  }
  return messages === 0 ? undefined : { text, messages }
}

