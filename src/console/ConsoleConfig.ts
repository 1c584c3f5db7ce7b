/**
 * Console settings, read inside the console layer.
 *
 *   GATEWAY_STALE_AFTER_SECONDS   a gateway not seen for longer is "stale" (default 180: three missed packets)
 *   GATEWAY_SILENT_AFTER_SECONDS  … and "silent" after this long, or if never seen (default 900)
 *   GATEWAY_RECENT_WINDOW_SECONDS window of packets behind the admin view's rates (default 300)
 *   CONSOLE_REQUEST_TIMEOUT       longest a console request may take before it is answered 503 (default 30 s)
 *   CONSOLE_MAX_BODY_BYTES        largest console request body, in bytes (default 65536; larger → 413)
 */
import { Config, ConfigError, Context, type Duration, Either, Layer } from "effect"
import { positiveDuration, positiveInt } from "../config/AppConfig.js"

export interface ConsoleSettings {
  readonly staleAfterSeconds: number
  readonly silentAfterSeconds: number
  readonly recentWindowSeconds: number
  /**
   * Longest a console request may take (console queries take milliseconds). One still running
   * then — its database connection hung, or a runaway query — is answered 503 with Retry-After
   * and its query abandoned (the pool drops that connection).
   */
  readonly requestTimeout: Duration.Duration
  /** Largest request body a console call reads (its bodies are a few hundred bytes of settings). */
  readonly maxBodyBytes: number
}

export const ConsoleSettingsConfig: Config.Config<ConsoleSettings> = Config.all({
  staleAfterSeconds: positiveInt("GATEWAY_STALE_AFTER_SECONDS", 180),
  silentAfterSeconds: positiveInt("GATEWAY_SILENT_AFTER_SECONDS", 900),
  recentWindowSeconds: positiveInt("GATEWAY_RECENT_WINDOW_SECONDS", 300),
  requestTimeout: positiveDuration("CONSOLE_REQUEST_TIMEOUT", "30 seconds"),
  maxBodyBytes: positiveInt("CONSOLE_MAX_BODY_BYTES", 65_536)
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
