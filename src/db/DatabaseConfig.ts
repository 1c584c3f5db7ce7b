import { Config, type Option, Redacted } from "effect"
import { checked, portConfig, positiveInt } from "../config/AppConfig.js"

export interface DatabaseSettings {
  /** `DATABASE_URL`; when absent an embedded PostgreSQL is started in `DATA_DIR/postgres`. */
  readonly url: Option.Option<Redacted.Redacted<string>>
  readonly embeddedPort: number
  readonly poolMax: number
  readonly connectTimeoutMs: number
}

export const DatabaseSettingsConfig: Config.Config<DatabaseSettings> = Config.all({
  url: Config.option(
    checked("DATABASE_URL", Config.redacted("DATABASE_URL"), "must be a postgres:// or postgresql:// URL", (url) =>
      /^postgres(ql)?:\/\/\S+$/.test(Redacted.value(url)))
  ),
  embeddedPort: portConfig("EMBEDDED_PG_PORT", 54329),
  poolMax: positiveInt("DB_POOL_MAX", 10),
  connectTimeoutMs: positiveInt("DB_CONNECT_TIMEOUT_MS", 5000)
})
