/**
 * Who may see which topic. `ticker` is public; a vendor sees `vendor:{gateway}` for its own
 * gateways (read from `gateways.vendor_id`, cached briefly); an agent sees only `agent:{itself}`;
 * an admin sees everything. Checked on every (re)connect, so a resumed stream replays only what
 * the caller may see now.
 */
import { SqlClient } from "@effect/sql"
import { Cache, Cause, Context, Data, Duration, Effect, Exit, Layer } from "effect"
import { Forbidden, Unauthorized } from "../auth/Errors.js"
import type { Principal } from "../auth/Principal.js"
import { RealtimeSettingsConfig } from "./RealtimeConfig.js"
import type { TopicSet } from "./Topics.js"

export class OwnershipUnavailable extends Data.TaggedError("OwnershipUnavailable")<{ readonly cause: unknown }> {}

/** Port: a vendor's gateways. */
export class GatewayOwnership extends Context.Tag("Realtime/GatewayOwnership")<GatewayOwnership, {
  readonly gatewaysOf: (vendorId: string) => Effect.Effect<ReadonlySet<string>, OwnershipUnavailable>
}>() {
  static readonly Live = Layer.effect(
    GatewayOwnership,
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const { ownershipTtl } = yield* RealtimeSettingsConfig
      // Concurrent checks for one vendor share one query; an answer is kept `ownershipTtl`, a failure not at all.
      const cache = yield* Cache.makeWith({
        capacity: 10_000,
        lookup: (vendorId: string) =>
          sql<{ id: string }>`SELECT id FROM gateways WHERE vendor_id = ${vendorId}`.pipe(
            Effect.map((rows): ReadonlySet<string> => new Set(rows.map((row) => row.id))),
            Effect.mapError((cause) => new OwnershipUnavailable({ cause }))
          ),
        timeToLive: Exit.match({ onFailure: () => Duration.zero, onSuccess: () => ownershipTtl })
      })
      // A check waiting on a query whose caller went away asks again rather than fail with its interruption.
      const gatewaysOf = (vendorId: string): Effect.Effect<ReadonlySet<string>, OwnershipUnavailable> =>
        cache.get(vendorId).pipe(
          Effect.catchAllCause((cause) =>
            Cause.isInterruptedOnly(cause) ? Effect.suspend(() => gatewaysOf(vendorId)) : Effect.failCause(cause)
          )
        )
      return { gatewaysOf }
    })
  )

  static readonly InMemory = (owned: Readonly<Record<string, ReadonlyArray<string>>>) =>
    Layer.succeed(GatewayOwnership, { gatewaysOf: (vendorId) => Effect.succeed(new Set(owned[vendorId] ?? [])) })
}

const needsToken = (topics: TopicSet): string | undefined =>
  [...topics.gateways].map((g) => `vendor:${g}`).concat([...topics.agents].map((a) => `agent:${a}`))[0]

/** Fails with 401 (no principal for a private topic) or 403 (a topic this principal may not see). */
export const authorize = (
  principal: Principal | undefined,
  topics: TopicSet,
  howToAuthenticate: string
): Effect.Effect<void, Unauthorized | Forbidden | OwnershipUnavailable, GatewayOwnership> =>
  Effect.gen(function*() {
    const first = needsToken(topics)
    if (first === undefined) return
    if (principal === undefined) {
      return yield* Effect.fail(new Unauthorized({ message: `topic ${first} needs a console token (${howToAuthenticate})` }))
    }
    switch (principal.role) {
      case "admin":
        return
      case "agent": {
        if (topics.gateways.size > 0) {
          return yield* Effect.fail(new Forbidden({ message: "vendor: topics are for vendor and admin tokens; this token's role is agent" }))
        }
        const other = [...topics.agents].find((agent) => agent !== principal.agentId)
        if (other !== undefined) {
          return yield* Effect.fail(new Forbidden({ message: `topic agent:${other}: an agent token may only subscribe to its own agent topic` }))
        }
        return
      }
      case "vendor": {
        if (topics.agents.size > 0) {
          return yield* Effect.fail(new Forbidden({ message: "agent: topics are for agent and admin tokens; this token's role is vendor" }))
        }
        const owned = yield* Effect.flatMap(GatewayOwnership, (ownership) => ownership.gatewaysOf(principal.vendorId))
        const foreign = [...topics.gateways].find((gateway) => !owned.has(gateway))
        if (foreign !== undefined) {
          return yield* Effect.fail(new Forbidden({ message: `topic vendor:${foreign}: not one of your gateways` }))
        }
        return
      }
    }
  })

/**
 * Streams are limited per user; anonymous (ticker-only) streams share one pool per process. A
 * user is its subject within its tenant: `sub` is unique only per issuer, so two vendors' tokens
 * with the same `sub` (a shared service-account name) used to share one limit, and one vendor's
 * streams refused the other's (an outside probe).
 */
export const userKey = (principal: Principal): string =>
  JSON.stringify(
    principal.role === "vendor"
      ? [principal.role, principal.vendorId, principal.subject]
      : principal.role === "agent"
      ? [principal.role, principal.agentId, principal.subject]
      : [principal.role, principal.subject]
  )
