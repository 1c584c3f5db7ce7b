/**
 * Who is posting: the bearer ingest key is hashed and looked up (cached briefly, misses too,
 * so a flood of bad keys does not reach the database). Keys are never stored or logged.
 */
import { SqlClient } from "@effect/sql"
import { Clock, Context, Data, Deferred, Duration, Effect, Exit, FiberId, Layer, Option } from "effect"
import { hashIngestKey, isIngestKeyFormat } from "../identity/IngestKey.js"

export interface GatewayIdentity {
  readonly id: string
  readonly vendorId: string
  readonly rateLimitPerSec: number | null
  readonly signingSecret: string | null
  readonly disabled: boolean
}

export class DirectoryUnavailable extends Data.TaggedError("DirectoryUnavailable")<{ readonly cause: unknown }> {}

/** Port: key hash → gateway. */
export class GatewayDirectory extends Context.Tag("Ingest/GatewayDirectory")<GatewayDirectory, {
  readonly findByKeyHash: (hash: string) => Effect.Effect<Option.Option<GatewayIdentity>, DirectoryUnavailable>
}>() {
  static readonly Live = Layer.effect(
    GatewayDirectory,
    Effect.map(SqlClient.SqlClient, (sql) => ({
      findByKeyHash: (hash: string) =>
        sql<{ id: string; vendor_id: string; rate_limit_per_sec: number | null; signing_secret: string | null; disabled: boolean }>`
          SELECT id, vendor_id, rate_limit_per_sec, signing_secret, disabled_at IS NOT NULL AS disabled
            FROM gateways WHERE ingest_key_hash = ${hash}`.pipe(
          Effect.map((rows) =>
            Option.map(Option.fromNullable(rows[0]), (row) => ({
              id: row.id,
              vendorId: row.vendor_id,
              rateLimitPerSec: row.rate_limit_per_sec,
              signingSecret: row.signing_secret,
              disabled: row.disabled
            }))
          ),
          Effect.mapError((cause) => new DirectoryUnavailable({ cause }))
        )
    }))
  )

  static readonly InMemory = (gateways: ReadonlyArray<GatewayIdentity & { readonly key: string }>) =>
    Layer.succeed(GatewayDirectory, {
      findByKeyHash: (hash) =>
        Effect.succeed(Option.fromNullable(gateways.find((gateway) => hashIngestKey(gateway.key) === hash)))
    })
}

/**
 * A TTL cache in front of the directory, keyed by key hash. Hand-written rather than Effect
 * `Cache` because stale-if-error needs a gateway's expired entry kept and served while the
 * database is away, which `Cache` evicts. Three rules keep refusals cheap:
 * - a string that is not shaped like a key is a miss without a hash or a lookup;
 * - hits and misses are bounded separately: a flood of unknown keys evicts only other misses,
 *   never a known gateway (whose entry is its stale-if-error cover during an outage);
 * - concurrent lookups of one hash share one database query.
 */
export const makeKeyCache = (ttl: Duration.DurationInput, maxEntries = 10_000, maxMisses = 10_000) =>
  Effect.gen(function*() {
    const directory = yield* GatewayDirectory
    const hits = new Map<string, { readonly value: GatewayIdentity; readonly expires: number }>()
    const misses = new Map<string, number>()
    const inflight = new Map<string, Deferred.Deferred<Option.Option<GatewayIdentity>, DirectoryUnavailable>>()
    const ttlMs = Duration.toMillis(ttl)
    // Misses are remembered for less time, so a new gateway can post almost at once.
    const missTtlMs = Math.min(ttlMs, 5_000)

    const bounded = <V>(map: Map<string, V>, key: string, value: V, max: number) => {
      map.delete(key) // re-inserted at the end: the oldest entry is evicted first
      while (map.size >= Math.max(1, max)) {
        const oldest = map.keys().next()
        if (oldest.done === true) break
        map.delete(oldest.value)
      }
      map.set(key, value)
    }

    const remember = (hash: string, value: Option.Option<GatewayIdentity>, now: number) => {
      if (Option.isSome(value)) {
        misses.delete(hash)
        bounded(hits, hash, { value: value.value, expires: now + ttlMs }, maxEntries)
      } else {
        hits.delete(hash) // revoked or rotated: no longer served, not even stale
        bounded(misses, hash, now + missTtlMs, maxMisses)
      }
    }

    /**
     * One query per hash at a time; later callers await the first one's answer. The query runs
     * detached from the caller, so a client that disconnects does not fail the others waiting.
     */
    const shared = (hash: string) =>
      Effect.suspend(() => {
        const running = inflight.get(hash)
        if (running !== undefined) return Deferred.await(running)
        const deferred = Deferred.unsafeMake<Option.Option<GatewayIdentity>, DirectoryUnavailable>(FiberId.none)
        inflight.set(hash, deferred)
        return directory.findByKeyHash(hash).pipe(
          Effect.exit,
          Effect.flatMap((exit) =>
            Effect.flatMap(Clock.currentTimeMillis, (now) => {
              inflight.delete(hash)
              if (Exit.isSuccess(exit)) remember(hash, exit.value, now)
              return Deferred.done(deferred, exit)
            })
          ),
          Effect.forkDaemon,
          Effect.zipRight(Deferred.await(deferred))
        )
      })

    return (key: string) =>
      Effect.gen(function*() {
        if (!isIngestKeyFormat(key)) return Option.none<GatewayIdentity>()
        const hash = hashIngestKey(key)
        const now = yield* Clock.currentTimeMillis
        const hit = hits.get(hash)
        if (hit !== undefined && hit.expires > now) return Option.some(hit.value)
        const missUntil = misses.get(hash)
        if (missUntil !== undefined && missUntil > now) return Option.none<GatewayIdentity>()
        // While the database is away, a gateway we knew keeps posting (stale-if-error): the
        // pipeline journals its events. Unknown keys get 503 — we cannot tell them apart.
        return yield* shared(hash).pipe(
          Effect.catchAll((error) => (hit !== undefined ? Effect.succeed(Option.some(hit.value)) : Effect.fail(error)))
        )
      })
  })
