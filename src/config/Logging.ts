import { Cause, Config, ConfigError, Effect, Either, Layer, Logger, LogLevel } from "effect"

const LEVELS: Record<string, LogLevel.LogLevel> = {
  trace: LogLevel.Trace,
  debug: LogLevel.Debug,
  info: LogLevel.Info,
  warn: LogLevel.Warning,
  warning: LogLevel.Warning,
  error: LogLevel.Error,
  none: LogLevel.None
}

const isBlank = (message: unknown): boolean =>
  message === undefined || message === null ||
  (typeof message === "string" && message.trim() === "") ||
  (Array.isArray(message) && message.every(isBlank))

/** The first line of what failed: `Effect.logError(cause)` alone would log `"message":[]`. */
const summarise = (cause: Cause.Cause<unknown>): string => {
  if (Cause.isEmpty(cause)) return "(no message)"
  if (Cause.isInterruptedOnly(cause)) return "interrupted"
  const error = Cause.squash(cause)
  const text = error instanceof Error ? error.message : typeof error === "string" ? error : ""
  const line = (text.trim() === "" ? Cause.pretty(cause) : text).split("\n").find((l) => l.trim() !== "")
  return line?.trim() ?? "(no message)"
}

/**
 * Every line says what happened in `message`: a line logged with only a cause (as the
 * runtime does for a failure that ends the process) gets the cause's first line. Log
 * shippers index `message`; an empty one hides the very lines that matter most.
 */
const withMessage = <O>(logger: Logger.Logger<unknown, O>): Logger.Logger<unknown, O> =>
  Logger.mapInputOptions(logger, (options) =>
    isBlank(options.message) ? { ...options, message: summarise(options.cause) } : options)

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
    const logger = format === "json"
      ? Logger.withConsoleLog(Logger.jsonLogger)
      : format === "logfmt"
      ? Logger.withConsoleLog(Logger.logfmtLogger)
      : Logger.prettyLogger()
    return Layer.merge(Logger.replace(Logger.defaultLogger, withMessage(logger)), Logger.minimumLogLevel(level))
  })
)

/** Human-readable logs on stderr, for commands whose stdout is their output. */
export const CliLoggingLive = Layer.merge(
  Logger.replace(Logger.defaultLogger, withMessage(Logger.withConsoleError(Logger.logfmtLogger))),
  Logger.minimumLogLevel(LogLevel.Warning)
)
