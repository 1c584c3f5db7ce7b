/**
 * Topics: what a stream asks for, and which topics a committed event belongs to.
 *
 *   ticker               PaymentAuthorized only, reduced to gateway, amount, asset, network, time
 *   vendor:{gateway_id}  every event of that gateway
 *   agent:{agent_id}     that agent's payments, blocks, solvency alerts and intents
 */
import { Either } from "effect"
import { TOPIC_PATTERN } from "../../schema/api/Realtime.js"

export type TopicKind = "ticker" | "vendor" | "agent"
export const TOPIC_KINDS: ReadonlyArray<TopicKind> = ["ticker", "vendor", "agent"]

export interface TopicSet {
  /** Topic names, deduplicated, in the order asked. */
  readonly names: ReadonlyArray<string>
  readonly ticker: boolean
  readonly gateways: ReadonlySet<string>
  readonly agents: ReadonlySet<string>
}

/** `topics=ticker,vendor:gw_1` → a topic set, or a message naming the problem (for a 400). */
export const parseTopics = (raw: string | undefined, maxTopics: number): Either.Either<TopicSet, string> => {
  const names = [...new Set((raw ?? "").split(",").map((s) => s.trim()).filter((s) => s.length > 0))]
  if (names.length === 0) return Either.left("topics: give at least one topic, e.g. ?topics=ticker")
  if (names.length > maxTopics) return Either.left(`topics: at most ${maxTopics} topics per stream (got ${names.length})`)
  const bad = names.find((name) => !TOPIC_PATTERN.test(name))
  if (bad !== undefined) {
    return Either.left(
      `topics: "${bad.slice(0, 140)}" is not a topic; use ticker, vendor:<gateway_id> or agent:<agent_id>`
    )
  }
  return Either.right(topicSet(names))
}

export const topicSet = (names: ReadonlyArray<string>): TopicSet => {
  const gateways = new Set<string>()
  const agents = new Set<string>()
  let ticker = false
  for (const name of names) {
    if (name === "ticker") ticker = true
    else if (name.startsWith("vendor:")) gateways.add(name.slice("vendor:".length))
    else if (name.startsWith("agent:")) agents.add(name.slice("agent:".length))
  }
  return { names, ticker, gateways, agents }
}

export const kindsOf = (topics: TopicSet): ReadonlyArray<TopicKind> =>
  TOPIC_KINDS.filter((kind) =>
    kind === "ticker" ? topics.ticker : kind === "vendor" ? topics.gateways.size > 0 : topics.agents.size > 0
  )

/** What the hub needs of a committed event (an `IngestEvent` is one; so is a row read back). */
export interface LiveEventInput {
  readonly source: string
  readonly id: string
  readonly type: string
  readonly time: string
  readonly gatewayId: string
  readonly subject: string | undefined
  readonly data: unknown
}

const AGENT_TYPES = new Set(["PaymentAuthorized", "RequestBlocked", "SolvencyAlert", "PaymentIntent"])

const field = (data: unknown, name: string): string | undefined => {
  if (typeof data !== "object" || data === null) return undefined
  const value: unknown = Reflect.get(data, name)
  return typeof value === "string" ? value : undefined
}

/** The agent an event concerns, for the `agent:` topic (telemetry packets and unknown types have none). */
export const agentOf = (event: LiveEventInput): string | undefined =>
  AGENT_TYPES.has(event.type) ? field(event.data, "agent_id") : undefined

/** Topic names an event is delivered on. */
export const topicsOf = (event: LiveEventInput): ReadonlyArray<string> => {
  const agent = agentOf(event)
  const topics = [`vendor:${event.gatewayId}`]
  if (agent !== undefined) topics.push(`agent:${agent}`)
  if (event.type === "PaymentAuthorized") topics.push("ticker")
  return topics
}

/** JSON of the full message (`LiveEvent` in schema/api/Realtime.ts), built by concatenation: it is on the hot path. */
export const liveEventJson = (event: LiveEventInput): string =>
  `{"id":${JSON.stringify(event.id)},"source":${JSON.stringify(event.source)},"type":${JSON.stringify(event.type)},` +
  `"time":${JSON.stringify(event.time)},"gateway_id":${JSON.stringify(event.gatewayId)},` +
  `${event.subject === undefined ? "" : `"subject":${JSON.stringify(event.subject)},`}"data":${JSON.stringify(event.data ?? null)}}`

/** JSON of the ticker message (`TickerEvent`): deliberately without agent, payer or route. */
export const tickerEventJson = (event: LiveEventInput): string =>
  `{"gateway_id":${JSON.stringify(event.gatewayId)},"amount":${JSON.stringify(field(event.data, "amount") ?? "0")},` +
  `"asset":${JSON.stringify(field(event.data, "asset") ?? "")},"network":${JSON.stringify(field(event.data, "network") ?? "")},` +
  `"time":${JSON.stringify(event.time)}}`
