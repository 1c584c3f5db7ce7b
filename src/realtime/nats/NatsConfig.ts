/**
 * Settings of the NATS JetStream bus (`REALTIME_BUS=nats`), read inside its layers; documented
 * in docs/scale-out.md and the README's configuration table.
 */
import { Config, Duration, Either, ConfigError } from "effect"
import { checked, positiveDuration, positiveInt } from "../../config/AppConfig.js"

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

/** A stream or bucket name part: letters, digits, _ and -. */
const natsName = (name: string, fallback: string) =>
  checked(name, Config.string(name).pipe(Config.withDefault(fallback)), "must be letters, digits, _ and -", (s) =>
    /^[A-Za-z0-9_-]+$/.test(s))

export const NatsSettingsConfig: Config.Config<NatsSettings> = Config.all({
  servers: Config.string("NATS_URL").pipe(
    Config.withDefault("nats://127.0.0.1:4222"),
    Config.map((raw) => raw.split(",").map((s) => s.trim()).filter((s) => s.length > 0))
  ),
  stream: natsName("NATS_STREAM", "MACHPAY_LIVE"),
  maxAge: positiveDuration("NATS_STREAM_MAX_AGE", Duration.hours(1)),
  maxBytes: positiveInt("NATS_STREAM_MAX_BYTES", 1024 * 1024 * 1024),
  replicas: checked("NATS_REPLICAS", Config.integer("NATS_REPLICAS").pipe(Config.withDefault(1)), "must be 1, 3 or 5", (n) =>
    n === 1 || n === 3 || n === 5),
  kvPrefix: natsName("NATS_KV_PREFIX", "machpay"),
  slotLease: positiveDuration("NATS_SLOT_LEASE", Duration.seconds(45)),
  replayMaxMessages: positiveInt("NATS_REPLAY_MAX_MESSAGES", 20_000)
})

/** The bus choice and its settings (checked at start-up with the rest, whichever bus is chosen). */
export const BusConfig = Config.all({ kind: BusKindConfig, nats: NatsSettingsConfig })
