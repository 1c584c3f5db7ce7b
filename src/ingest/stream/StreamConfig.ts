/**
 * Settings of the ingest stream behind `INGEST_DURABILITY=jetstream` (docs/scale-out.md). The
 * NATS servers are the bus's (`NATS_URL`); everything else is the ingest stream's own, so the
 * acknowledged-events stream can be sized and replicated apart from the live one.
 */
import { Config, ConfigError, Duration, Either } from "effect"
import { checked, positiveDuration, positiveInt } from "../../config/AppConfig.js"

export interface IngestStreamSettings {
  /** Stream name; subjects `<stream>.in.<route>.<gateway>`. */
  readonly stream: string
  /** The durable pull consumer every receiver's writers share. */
  readonly consumer: string
  readonly replicas: number
  /** Messages not committed within this are dropped by JetStream: keep it above any outage you ride out. */
  readonly maxAge: Duration.Duration
  /** When the stream holds this much, new publishes are refused (503) — nothing acknowledged is dropped. */
  readonly maxBytes: number
  /** A delivery not acknowledged within this goes to another writer (or again to the same). */
  readonly ackWait: Duration.Duration
  /** Deliveries in flight (not yet acknowledged) across all writers. */
  readonly maxAckPending: number
}

const natsName = (name: string, fallback: string) =>
  checked(name, Config.string(name).pipe(Config.withDefault(fallback)), "must be letters, digits, _ and -", (s) =>
    /^[A-Za-z0-9_-]+$/.test(s))

export const IngestStreamSettingsConfig: Config.Config<IngestStreamSettings> = Config.all({
  stream: natsName("NATS_INGEST_STREAM", "MACHPAY_INGEST"),
  consumer: natsName("NATS_INGEST_CONSUMER", "writers"),
  replicas: checked(
    "NATS_INGEST_REPLICAS",
    Config.integer("NATS_INGEST_REPLICAS").pipe(Config.withDefault(1)),
    "must be 1, 3 or 5",
    (n) => n === 1 || n === 3 || n === 5
  ),
  maxAge: positiveDuration("NATS_INGEST_MAX_AGE", Duration.days(7)),
  maxBytes: positiveInt("NATS_INGEST_MAX_BYTES", 10 * 1024 * 1024 * 1024),
  ackWait: positiveDuration("NATS_INGEST_ACK_WAIT", Duration.seconds(30)),
  maxAckPending: positiveInt("NATS_INGEST_MAX_ACK_PENDING", 20_000)
})

/**
 * `INGEST_DURABILITY=jetstream` needs a NATS to be named: the bus's default URL is fine for a
 * live feed that can be rebuilt, not for where acknowledged events are kept.
 */
export const IngestDurabilityConfig = Config.all({
  durability: Config.string("INGEST_DURABILITY").pipe(Config.withDefault("journal")),
  natsUrl: Config.option(Config.string("NATS_URL"))
}).pipe(
  Config.mapOrFail(({ durability, natsUrl }) =>
    durability === "jetstream" && (natsUrl._tag === "None" || natsUrl.value.trim() === "")
      ? Either.left(ConfigError.InvalidData(["NATS_URL"], "INGEST_DURABILITY=jetstream needs NATS_URL (the NATS servers that keep acknowledged events)"))
      : Either.right(durability)
  )
)

/** Checked at start-up with the rest (StartupConfig). */
export const IngestStreamConfig = Config.all({ durability: IngestDurabilityConfig, stream: IngestStreamSettingsConfig })
