/**
 * Who may see which topic. `ticker` is public; a vendor sees `vendor:{gateway}` for its own
 * gateways (read from `gateways.vendor_id`, cached briefly); an agent sees only `agent:{itself}`;
 * an admin sees everything. Checked on every (re)connect, so a resumed stream replays only what
 * the caller may see now.
 */
import { SqlClient } from "@effect/sql"
import { Clock, Context, Data, Duration, Effect, Layer } from "effect"
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
      const ttlMs = Duration.toMillis(ownershipTtl)
      const cache = new Map<string, { readonly gateways: ReadonlySet<string>; readonly expires: number }>()
      return {
        gatewaysOf: (vendorId) =>
          Effect.gen(function*() {
            const now = yield* Clock.currentTimeMillis
            const cached = cache.get(vendorId)
            if (cached !== undefined && cached.expires > now) return cached.gateways
            const rows = yield* sql<{ id: string }>`SELECT id FROM gateways WHERE vendor_id = ${vendorId}`.pipe(
              Effect.mapError((cause) => new OwnershipUnavailable({ cause }))
            )
            const gateways: ReadonlySet<string> = new Set(rows.map((row) => row.id))
            if (cache.size >= 10_000) cache.delete(cache.keys().next().value ?? "")
            cache.set(vendorId, { gateways, expires: now + ttlMs })
            return gateways
          })
      }
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

/** Streams are limited per user; anonymous (ticker-only) streams share one pool per process. */
export const userKey = (principal: Principal): string => `${principal.role}:${principal.subject}`
