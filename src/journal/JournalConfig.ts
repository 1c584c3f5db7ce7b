/** Journal settings from the environment (read inside the layer, never at import time). */
import { Config, type ConfigError, Duration, Effect, Layer } from "effect"
import * as path from "node:path"
import { positiveInt } from "../config/AppConfig.js"
import { JournalLive, type JournalOptions } from "./JournalLive.js"
import type { Journal, JournalUnavailable } from "./Service.js"

export const JournalSettingsConfig: Config.Config<JournalOptions> = Config.all({
  // Same default as AppSettings' DATA_DIR; read here so the journal needs nothing else.
  dataDir: Config.string("DATA_DIR").pipe(Config.withDefault(".data")),
  dir: Config.option(Config.string("JOURNAL_DIR")),
  maxBytes: positiveInt("JOURNAL_MAX_BYTES", 1024 * 1024 * 1024),
  segmentBytes: positiveInt("JOURNAL_SEGMENT_BYTES", 64 * 1024 * 1024),
  fsync: Config.literal("always", "interval", "never")("JOURNAL_FSYNC").pipe(Config.withDefault("always" as const)),
  fsyncInterval: Config.duration("JOURNAL_FSYNC_INTERVAL").pipe(Config.withDefault(Duration.millis(100)))
}).pipe(
  Config.map(({ dataDir, dir, ...rest }) => ({
    ...rest,
    directory: path.resolve(dir._tag === "Some" ? dir.value : path.join(dataDir, "journal"))
  }))
)

/** The disk journal configured from the environment (`JOURNAL_*`, `DATA_DIR`). */
export const JournalFromConfig: Layer.Layer<Journal, JournalUnavailable | ConfigError.ConfigError> = Layer.unwrapEffect(
  Effect.map(JournalSettingsConfig, JournalLive)
)
