import { Config, ConfigError, Effect, Either, Layer, Logger, LogLevel } from "effect"

const LEVELS: Record<string, LogLevel.LogLevel> = {
  trace: LogLevel.Trace,
  debug: LogLevel.Debug,
  info: LogLevel.Info,
  warn: LogLevel.Warning,
  warning: LogLevel.Warning,
  error: LogLevel.Error,
  none: LogLevel.None
}

/** JSON lines by default (one object per log line, for shippers); `LOG_FORMAT=pretty` for people. */
export const LoggingLive = Layer.unwrapEffect(
  Effect.gen(function*() {
    const format = yield* Config.literal("json", "pretty", "logfmt")("LOG_FORMAT").pipe(Config.withDefault("json"))
    const level = yield* Config.string("LOG_LEVEL").pipe(
      Config.withDefault("info"),
      Config.mapOrFail((raw) => {
        const found = LEVELS[raw.trim().toLowerCase()]
        return found
          ? Either.right(found)
          : Either.left(ConfigError.InvalidData(["LOG_LEVEL"], `must be one of ${Object.keys(LEVELS).join(", ")}`))
      })
    )
    const logger = format === "json" ? Logger.json : format === "logfmt" ? Logger.logFmt : Logger.pretty
    return Layer.merge(logger, Logger.minimumLogLevel(level))
  })
)

/** Human-readable logs on stderr, for commands whose stdout is their output. */
export const CliLoggingLive = Layer.merge(
  Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.logfmtLogger)),
  Logger.minimumLogLevel(LogLevel.Warning)
)
