/**
 * Settings of the NATS JetStream bus (`REALTIME_BUS=nats`), read inside its layers; documented
 * in docs/scale-out.md and the README's configuration table.
 */
import { Config, Duration, Either, ConfigError } from "effect"
import { checked, positiveInt } from "../../config/AppConfig.js"

export type BusKind = "local" | "nats"

/** `REALTIME_BUS`: `local` (default: in-process hub + LISTEN/NOTIFY) or `nats` (JetStream). */
export const BusKindConfig: Config.Config<BusKind> = Config.string("REALTIME_BUS").pipe(
  Config.withDefault("local"),
  Config.mapOrFail((raw) => {
    const value = raw.trim().toLowerCase()
    return value === "local" || value === "nats"
      ? Either.right(value)
      : Either.left(ConfigError.InvalidData(["REALTIME_BUS"], `must be local or nats, got "${raw}"`))
  })
)

export interface NatsSettings {
  /** Comma-separated server URLs (any node of the cluster will do; the client learns the rest). */
  readonly servers: ReadonlyArray<string>
  /** The live-event stream; its subjects are `<stream>.ev.<gateway>`. */
  readonly stream: string
  readonly maxAge: Duration.Duration
  readonly maxBytes: number
  readonly replicas: number
  /** KV buckets for tickets and stream slots. */
  readonly kvPrefix: string
  /** How long a stream slot lives in KV without a refresh (a node that dies frees its slots after this). */
  readonly slotLease: Duration.Duration
  /** Most stream messages (a gateway's share of a committed batch each) one resume reads back; further behind: `replay_too_large`. */
  readonly replayMaxMessages: number
}

const NAME = /^[A-Za-z0-9_-]+$/

export const NatsSettingsConfig: Config.Config<NatsSettings> = Config.all({
  servers: Config.string("NATS_URL").pipe(
    Config.withDefault("nats://127.0.0.1:4222"),
    Config.map((raw) => raw.split(",").map((s) => s.trim()).filter((s) => s.length > 0))
  ),
  stream: checked(
    "NATS_STREAM",
    Config.string("NATS_STREAM").pipe(Config.withDefault("MACHPAY_LIVE")),
    "must be letters, digits, _ and -",
    (s) => NAME.test(s)
  ),
  maxAge: checked(
    "NATS_STREAM_MAX_AGE",
    Config.duration("NATS_STREAM_MAX_AGE").pipe(Config.withDefault(Duration.hours(1))),
    "must be a positive duration, e.g. \"1 hour\"",
    (d) => Duration.toMillis(d) > 0
  ),
  maxBytes: positiveInt("NATS_STREAM_MAX_BYTES", 1024 * 1024 * 1024),
  replicas: checked("NATS_REPLICAS", Config.integer("NATS_REPLICAS").pipe(Config.withDefault(1)), "must be 1, 3 or 5", (n) =>
    n === 1 || n === 3 || n === 5),
  kvPrefix: checked(
    "NATS_KV_PREFIX",
    Config.string("NATS_KV_PREFIX").pipe(Config.withDefault("machpay")),
    "must be letters, digits, _ and -",
    (s) => NAME.test(s)
  ),
  slotLease: checked(
    "NATS_SLOT_LEASE",
    Config.duration("NATS_SLOT_LEASE").pipe(Config.withDefault(Duration.seconds(45))),
    "must be a positive duration",
    (d) => Duration.toMillis(d) > 0
  ),
  replayMaxMessages: positiveInt("NATS_REPLAY_MAX_MESSAGES", 20_000)
})

/** The bus choice and its settings (checked at start-up with the rest, whichever bus is chosen). */
export const BusConfig = Config.all({ kind: BusKindConfig, nats: NatsSettingsConfig })
