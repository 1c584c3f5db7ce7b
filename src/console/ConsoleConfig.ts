/**
 * Console settings, read inside the console layer.
 *
 *   GATEWAY_STALE_AFTER_SECONDS   a gateway not seen for longer is "stale" (default 180: three missed packets)
 *   GATEWAY_SILENT_AFTER_SECONDS  … and "silent" after this long, or if never seen (default 900)
 *   GATEWAY_RECENT_WINDOW_SECONDS window of packets behind the admin view's rates (default 300)
 */
import { Config, ConfigError, Context, Either, Layer } from "effect"
import { positiveInt } from "../config/AppConfig.js"

export interface ConsoleSettings {
  readonly staleAfterSeconds: number
  readonly silentAfterSeconds: number
  readonly recentWindowSeconds: number
}

export const ConsoleSettingsConfig: Config.Config<ConsoleSettings> = Config.all({
  staleAfterSeconds: positiveInt("GATEWAY_STALE_AFTER_SECONDS", 180),
  silentAfterSeconds: positiveInt("GATEWAY_SILENT_AFTER_SECONDS", 900),
  recentWindowSeconds: positiveInt("GATEWAY_RECENT_WINDOW_SECONDS", 300)
}).pipe(
  Config.mapOrFail((s) =>
    s.silentAfterSeconds > s.staleAfterSeconds
      ? Either.right(s)
      : Either.left(ConfigError.InvalidData(["GATEWAY_SILENT_AFTER_SECONDS"], "must be greater than GATEWAY_STALE_AFTER_SECONDS"))
  )
)

export class ConsoleSettingsService extends Context.Tag("Console/Settings")<ConsoleSettingsService, ConsoleSettings>() {
  static readonly Live = Layer.effect(ConsoleSettingsService, ConsoleSettingsConfig)
}
