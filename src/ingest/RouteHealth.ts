/**
 * What `/health` says about ingest, from the writers' status: a route that is not committing is
 * named, with how long and the class of the failure — never the database's own text (that is
 * logged, and may hold event data).
 */
import type { ComponentStatus } from "../../schema/api/Health.js"
import type { RouteStatus } from "./Batcher.js"
import { describeStoreError } from "./EventStore.js"

/**
 * A flush running longer than this means the route is stuck, whatever the error says (a flush's
 * p99 is under a second at saturation). It was 30 s, the write timeout itself, so a write waiting
 * on a locked table was abandoned before `/health` ever said so (an outside probe: "ok" for 30 s).
 */
export const STUCK_AFTER_MS = 5_000

export const routeHealth = (
  routes: ReadonlyArray<RouteStatus>,
  context: {
    readonly now: number
    readonly pending: number
    readonly capacity: number
    readonly spilledPending: number
    /** The journal's last refusal (full, or a system error's code), until a request is taken again. */
    readonly journalFailure?: { readonly at: number; readonly what: string } | undefined
  }
): typeof ComponentStatus.Type => {
  const problems: Array<string> = []
  if (context.journalFailure !== undefined) {
    const seconds = Math.max(0, Math.round((context.now - context.journalFailure.at) / 1000))
    problems.push(`the journal refused a write ${seconds} s ago (${context.journalFailure.what}); requests get 503`)
  }
  for (const route of routes) {
    if (route.failure !== undefined) {
      const seconds = Math.max(0, Math.round((context.now - route.failure.since) / 1000))
      problems.push(`${route.route} not committing for ${seconds} s: ${describeStoreError(route.failure.error)}`)
    } else if (route.inFlightSince !== undefined && context.now - route.inFlightSince > STUCK_AFTER_MS) {
      problems.push(`${route.route} flush running for ${Math.round((context.now - route.inFlightSince) / 1000)} s`)
    }
  }
  if (context.pending > context.capacity * 0.8) problems.push(`queue ${context.pending}/${context.capacity}`)
  if (problems.length === 0) return { status: "ok" }
  const backlog = context.spilledPending > 0 ? `; ${context.spilledPending} events waiting in the journal` : ""
  return { status: "degraded", reason: `${problems.join("; ")}${backlog}` }
}
