/**
 * Who is posting: the bearer ingest key is hashed and looked up (cached briefly, misses too,
 * so a flood of bad keys does not reach the database). Keys are never stored or logged.
 */
import { SqlClient } from "@effect/sql"
import { Clock, Context, Data, Duration, Effect, Layer, Option } from "effect"
import { hashIngestKey } from "../identity/IngestKey.js"

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

/** A small TTL cache in front of the directory, keyed by key hash; stale entries serve during outages. */
export const makeKeyCache = (ttl: Duration.Duration, maxEntries = 10_000) =>
  Effect.gen(function*() {
    const directory = yield* GatewayDirectory
    const entries = new Map<string, { readonly value: Option.Option<GatewayIdentity>; readonly expires: number }>()
    const ttlMs = Duration.toMillis(ttl)
    return (key: string) =>
      Effect.gen(function*() {
        const hash = hashIngestKey(key)
        const now = yield* Clock.currentTimeMillis
        const cached = entries.get(hash)
        if (cached && cached.expires > now) return cached.value
        // While the database is away, a gateway we knew keeps posting (stale-if-error): the
        // pipeline journals its events. Unknown keys get 503 — we cannot tell them apart.
        const value = yield* directory.findByKeyHash(hash).pipe(
          Effect.catchAll((error) => (cached ? Effect.succeed(cached.value) : Effect.fail(error)))
        )
        if (entries.size >= maxEntries) entries.delete(entries.keys().next().value ?? "")
        // Misses are remembered for less time, so a new gateway can post almost at once.
        entries.set(hash, { value, expires: now + (Option.isSome(value) ? ttlMs : Math.min(ttlMs, 5_000)) })
        return value
      })
  })
