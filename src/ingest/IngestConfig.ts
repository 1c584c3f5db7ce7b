import { Config, Duration } from "effect"
import { positiveDuration, positiveInt } from "../config/AppConfig.js"

const duration = (name: string, fallback: Duration.DurationInput) =>
  Config.duration(name).pipe(Config.withDefault(Duration.decode(fallback)))

/**
 * `journal` (default): a request is acknowledged once its events are fsynced to the disk
 * journal — a crash, SIGKILL or power loss loses nothing acknowledged. `memory`: acknowledged
 * once queued in memory (the journal only takes spill-over) — a crash loses what was queued.
 * `jetstream`: acknowledged once the NATS JetStream ingest stream has stored them (replicated
 * per NATS_INGEST_REPLICAS); every receiver's writers consume that stream — losing a receiver
 * loses nothing it acknowledged (src/ingest/stream/, docs/scale-out.md).
 */
export type Durability = "memory" | "journal" | "jetstream"

export interface IngestSettings {
  readonly durability: Durability
  /** Above this many events in memory (or while the database fails), new events go to the journal. */
  readonly spillThreshold: number
  /** Events admitted but not yet committed, across all types; beyond it new requests get 503. */
  readonly queueCapacity: number
  /** Most events per flush statement; a route writes whatever queued during its last flush, up to this. */
  readonly batchSize: number
  /** Most bytes of rows per flush statement; a larger batch is written as several statements. */
  readonly maxBatchBytes: number
  /** Flush statements running at once across all routes (write slots); a route waits for a free one. */
  readonly maxConcurrentFlushes: number
  /** Longest one write attempt may take before it is abandoned (a hung connection) and retried. */
  readonly writeTimeout: Duration.Duration
  /** Deepest nesting of objects/arrays accepted in an event's data or extensions. */
  readonly maxNestingDepth: number
  /** Largest accepted event, in bytes of its stored row. */
  readonly maxEventBytes: number
  readonly maxBodyBytes: number
  /** Request body bytes being received or handled at once, all gateways; past it, 503. */
  readonly maxBodyBytesInFlight: number
  /** The same for one gateway. */
  readonly maxBodyBytesInFlightPerGateway: number
  /** The same for one vendor's gateways together: one tenant cannot hold the whole total. */
  readonly maxBodyBytesInFlightPerVendor: number
  readonly maxDecompressedBytes: number
  readonly maxEventsPerRequest: number
  /** Events older than this (by `time`) are rejected rather than written into a wrong partition. */
  readonly maxEventAge: Duration.Duration
  readonly maxClockSkew: Duration.Duration
  /** Default per-gateway rate (events/s); a gateway's own `rate_limit_per_sec` overrides it. */
  readonly rateLimitPerSec: number
  /** Per-gateway bytes of request bodies (after decompression) per second, for every gateway. */
  readonly rateLimitBytesPerSec: number
  readonly keyCacheTtl: Duration.Duration
  readonly signatureTolerance: Duration.Duration
  readonly deadLetterMaxPayloadBytes: number
  readonly recentKeys: number
  /** On SIGTERM/SIGINT: how long to keep flushing queued events before exiting. */
  readonly drainTimeout: Duration.Duration
}

const settings = Config.all({
  durability: Config.literal("journal", "memory", "jetstream")("INGEST_DURABILITY").pipe(Config.withDefault("journal" as const)),
  spillThreshold: positiveInt("INGEST_SPILL_THRESHOLD", 50_000),
  queueCapacity: positiveInt("INGEST_QUEUE_CAPACITY", 100_000),
  batchSize: positiveInt("INGEST_BATCH_SIZE", 1000),
  maxBatchBytes: positiveInt("INGEST_BATCH_MAX_BYTES", 16 * 1024 * 1024),
  maxConcurrentFlushes: positiveInt("INGEST_MAX_CONCURRENT_FLUSHES", 2),
  writeTimeout: positiveDuration("INGEST_WRITE_TIMEOUT", "30 seconds"),
  maxNestingDepth: positiveInt("INGEST_MAX_NESTING_DEPTH", 64),
  maxEventBytes: positiveInt("INGEST_MAX_EVENT_BYTES", 1024 * 1024),
  maxBodyBytes: positiveInt("INGEST_MAX_BODY_BYTES", 5 * 1024 * 1024),
  maxBodyBytesInFlight: positiveInt("INGEST_MAX_BODY_BYTES_IN_FLIGHT", 128 * 1024 * 1024),
  maxBodyBytesInFlightPerGateway: positiveInt("INGEST_MAX_BODY_BYTES_IN_FLIGHT_PER_GATEWAY", 32 * 1024 * 1024),
  maxBodyBytesInFlightPerVendor: positiveInt("INGEST_MAX_BODY_BYTES_IN_FLIGHT_PER_VENDOR", 64 * 1024 * 1024),
  maxDecompressedBytes: positiveInt("INGEST_MAX_DECOMPRESSED_BYTES", 20 * 1024 * 1024),
  maxEventsPerRequest: positiveInt("INGEST_MAX_EVENTS_PER_REQUEST", 10_000),
  maxEventAge: duration("INGEST_MAX_EVENT_AGE", "7 days"),
  maxClockSkew: duration("INGEST_MAX_CLOCK_SKEW", "5 minutes"),
  rateLimitPerSec: positiveInt("INGEST_RATE_LIMIT_PER_SEC", 20_000),
  rateLimitBytesPerSec: positiveInt("INGEST_RATE_LIMIT_BYTES_PER_SEC", 10 * 1024 * 1024),
  keyCacheTtl: duration("INGEST_KEY_CACHE_TTL", "30 seconds"),
  signatureTolerance: duration("INGEST_SIGNATURE_TOLERANCE", "5 minutes"),
  deadLetterMaxPayloadBytes: positiveInt("DEAD_LETTER_MAX_PAYLOAD_BYTES", 16 * 1024),
  recentKeys: positiveInt("INGEST_RECENT_KEYS", 200_000),
  drainTimeout: duration("SHUTDOWN_DRAIN_TIMEOUT", "20 seconds")
})

/** A flush's rows travel as one jsonb value, which PostgreSQL stops at 256 MiB: half of it, for its own encoding. */
const MAX_BATCH_BYTES = 128 * 1024 * 1024

/** The body budgets must hold one body of the largest size, or such a request could never pass. */
export const IngestSettingsConfig: Config.Config<IngestSettings> = settings.pipe(
  Config.validate({
    message: `INGEST_BATCH_MAX_BYTES must be at most ${MAX_BATCH_BYTES} (half of PostgreSQL's largest jsonb value)`,
    validation: (s) => s.maxBatchBytes <= MAX_BATCH_BYTES
  }),
  Config.validate({
    message:
      "INGEST_MAX_BODY_BYTES_IN_FLIGHT, INGEST_MAX_BODY_BYTES_IN_FLIGHT_PER_VENDOR and INGEST_MAX_BODY_BYTES_IN_FLIGHT_PER_GATEWAY must be at least INGEST_MAX_BODY_BYTES",
    validation: (s) =>
      s.maxBodyBytesInFlight >= s.maxBodyBytes && s.maxBodyBytesInFlightPerGateway >= s.maxBodyBytes &&
      s.maxBodyBytesInFlightPerVendor >= s.maxBodyBytes
  })
)
