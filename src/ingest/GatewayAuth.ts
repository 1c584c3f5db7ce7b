/**
 * Who is posting: the bearer ingest key is hashed and looked up (cached briefly, misses too,
 * so a flood of bad keys does not reach the database). Keys are never stored or logged.
 */
import { SqlClient } from "@effect/sql"
import { Cache, Cause, Context, Data, Duration, Effect, Exit, Layer, Option } from "effect"
import { hashIngestKey, isIngestKeyFormat } from "../identity/IngestKey.js"

export interface GatewayIdentity {
  readonly id: string
  readonly vendorId: string
  readonly rateLimitPerSec: number | null
  /** Bytes of bodies per second; null: the server's `INGEST_RATE_LIMIT_BYTES_PER_SEC`. */
  readonly rateLimitBytesPerSec: number | null
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
        sql<{ id: string; vendor_id: string; rate_limit_per_sec: number | null; rate_limit_bytes_per_sec: string | null; signing_secret: string | null; disabled: boolean }>`
          SELECT id, vendor_id, rate_limit_per_sec, rate_limit_bytes_per_sec, signing_secret, disabled_at IS NOT NULL AS disabled
            FROM gateways WHERE ingest_key_hash = ${hash}`.pipe(
          Effect.map((rows) =>
            Option.map(Option.fromNullable(rows[0]), (row) => ({
              id: row.id,
              vendorId: row.vendor_id,
              rateLimitPerSec: row.rate_limit_per_sec,
              rateLimitBytesPerSec: row.rate_limit_bytes_per_sec === null ? null : Number(row.rate_limit_bytes_per_sec),
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
 * An Effect `Cache` in front of the directory, keyed by key hash: concurrent lookups of one hash
 * share one query, and the time to live depends on the answer (a gateway for `ttl`, an unknown
 * key for at most 5 s so a new gateway can post almost at once, a failure not at all).
 * Two rules around it keep refusals cheap and outages survivable:
 * - a string that is not shaped like a key is a miss without a hash or a lookup;
 * - stale-if-error: each gateway's last answer is also kept apart from the cache, bounded by
 *   `maxEntries` and holding hits only, so neither expiry nor a flood of unknown keys (which
 *   can evict entries of the cache) takes away a known gateway's cover while the database is away.
 */
export const makeKeyCache = (ttl: Duration.DurationInput, maxEntries = 10_000, maxMisses = 10_000) =>
  Effect.gen(function*() {
    const directory = yield* GatewayDirectory
    const ttlDuration = Duration.decode(ttl)
    const missTtl = Duration.min(ttlDuration, Duration.seconds(5))
    const lastKnown = new Map<string, GatewayIdentity>()

    const remember = (hash: string, value: Option.Option<GatewayIdentity>) => {
      lastKnown.delete(hash) // re-inserted at the end: the oldest gateway is forgotten first
      if (Option.isNone(value)) return // revoked or rotated: no longer served, not even stale
      while (lastKnown.size >= Math.max(1, maxEntries)) {
        const oldest = lastKnown.keys().next()
        if (oldest.done === true) break
        lastKnown.delete(oldest.value)
      }
      lastKnown.set(hash, value.value)
    }

    const cache = yield* Cache.makeWith({
      capacity: Math.max(1, maxEntries) + Math.max(1, maxMisses),
      lookup: (hash: string) =>
        directory.findByKeyHash(hash).pipe(Effect.tap((value) => Effect.sync(() => remember(hash, value)))),
      timeToLive: Exit.match({
        onFailure: () => Duration.zero,
        onSuccess: (value) => (Option.isSome(value) ? ttlDuration : missTtl)
      })
    })

    /**
     * Callers waiting on a query that another caller started see that caller's interruption
     * (a client that disconnected); they ask again rather than fail with it.
     */
    const shared = (hash: string): Effect.Effect<Option.Option<GatewayIdentity>, DirectoryUnavailable> =>
      cache.get(hash).pipe(
        Effect.catchAllCause((cause) =>
          Cause.isInterruptedOnly(cause) ? Effect.suspend(() => shared(hash)) : Effect.failCause(cause)
        )
      )

    return (key: string) =>
      Effect.suspend(() => {
        if (!isIngestKeyFormat(key)) return Effect.succeed(Option.none<GatewayIdentity>())
        const hash = hashIngestKey(key)
        // While the database is away, a gateway we knew keeps posting (stale-if-error): the
        // pipeline journals its events. Unknown keys get 503 — we cannot tell them apart.
        return shared(hash).pipe(
          Effect.catchAll((error) => {
            const known = lastKnown.get(hash)
            return known !== undefined ? Effect.succeed(Option.some(known)) : Effect.fail(error)
          })
        )
      })
  })
