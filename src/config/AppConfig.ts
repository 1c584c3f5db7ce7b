/**
 * Process-level configuration: where to listen, which roles to run, where data lives.
 * Feature-specific settings live beside their feature (ingest, console, jobs) and are read
 * inside that feature's layer, so this module stays small.
 */
import { Config, ConfigError, Context, Duration, Either, Layer } from "effect"
import * as path from "node:path"

export const Roles = ["receiver", "api", "worker"] as const
export type Role = (typeof Roles)[number]

const isRole = (value: string): value is Role => (Roles as ReadonlyArray<string>).includes(value)

/** `ROLES=receiver,api` — comma separated; `all` (the default) runs every role in one process. */
export const RolesConfig: Config.Config<ReadonlySet<Role>> = Config.string("ROLES").pipe(
  Config.withDefault("all"),
  Config.mapOrFail((raw) => {
    const parts = raw.split(",").map((part) => part.trim().toLowerCase()).filter((part) => part.length > 0)
    if (parts.length === 0 || parts.includes("all")) return Either.right(new Set(Roles))
    const unknown = parts.filter((part) => !isRole(part))
    if (unknown.length > 0) {
      return Either.left(
        ConfigError.InvalidData(["ROLES"], `unknown role "${unknown.join(",")}"; expected a comma list of ${Roles.join(", ")} or all`)
      )
    }
    return Either.right(new Set(parts.filter(isRole)))
  })
)

/** Like `Config.validate`, but the error names the variable (validate's path is empty). */
export const checked = <A>(name: string, config: Config.Config<A>, message: string, ok: (value: A) => boolean) =>
  Config.mapOrFail(config, (value) => (ok(value) ? Either.right(value) : Either.left(ConfigError.InvalidData([name], message))))

export const portConfig = (name: string, fallback: number): Config.Config<number> =>
  checked(name, Config.integer(name).pipe(Config.withDefault(fallback)), "must be a TCP port between 1 and 65535", (n) =>
    n >= 1 && n <= 65535)

export const positiveInt = (name: string, fallback: number): Config.Config<number> =>
  checked(name, Config.integer(name).pipe(Config.withDefault(fallback)), "must be a positive integer", (n) => n > 0)

export const positiveDuration = (name: string, fallback: Duration.DurationInput): Config.Config<Duration.Duration> =>
  checked(
    name,
    Config.duration(name).pipe(Config.withDefault(Duration.decode(fallback))),
    "must be a positive duration, e.g. \"15 seconds\"",
    (d) => Duration.toMillis(d) > 0
  )

export interface AppSettings {
  readonly host: string
  readonly port: number
  readonly roles: ReadonlySet<Role>
  /** Absolute directory for the embedded PostgreSQL, the journal and development secrets. */
  readonly dataDir: string
  readonly version: string
  /**
   * Longest a client may take to send a whole request (headers and body); then 408 and the
   * connection is closed. Node's default of 300 s let a client hold a body's memory that long.
   * Responses (SSE streams, `wait=commit`) are not bounded by it.
   */
  readonly requestTimeout: Duration.Duration
}

export const AppSettingsConfig: Config.Config<AppSettings> = Config.all({
  host: Config.string("HOST").pipe(Config.withDefault("0.0.0.0")),
  port: portConfig("PORT", 8080),
  roles: RolesConfig,
  dataDir: Config.string("DATA_DIR").pipe(Config.withDefault(".data"), Config.map((dir) => path.resolve(dir))),
  version: Config.string("APP_VERSION").pipe(Config.withDefault("0.1.0")),
  requestTimeout: positiveDuration("HTTP_REQUEST_TIMEOUT", "60 seconds")
})

export class AppSettingsService extends Context.Tag("App/Settings")<AppSettingsService, AppSettings>() {
  static readonly Live = Layer.effect(AppSettingsService, AppSettingsConfig)
}

/** One line naming the variable and the problem, for the start-up failure message. */
export const describeConfigError = (error: ConfigError.ConfigError): string => {
  const lines: Array<string> = []
  const walk = (e: ConfigError.ConfigError): void => {
    switch (e._op) {
      case "And":
      case "Or":
        walk(e.left)
        walk(e.right)
        return
      case "MissingData":
      case "InvalidData":
      case "SourceUnavailable":
      case "Unsupported":
        lines.push(`${e.path.join("_") || "configuration"}: ${e.message}`)
        return
    }
  }
  walk(error)
  return `invalid configuration: ${lines.join("; ")}`
}
