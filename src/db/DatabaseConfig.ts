import { Config, type Option, Redacted } from "effect"
import * as path from "node:path"
import { checked, portConfig, positiveInt } from "../config/AppConfig.js"
import { DEFAULT_RUNTIME_DIR } from "./embedded/osAccess.js"

export interface DatabaseSettings {
  /** `DATABASE_URL`; when absent an embedded PostgreSQL is started in `DATA_DIR/postgres`. */
  readonly url: Option.Option<Redacted.Redacted<string>>
  readonly embeddedPort: number
  /** As root: where the embedded PostgreSQL's binaries and data go when the `postgres` user cannot reach the checkout. */
  readonly embeddedRuntimeDir: string
  readonly poolMax: number
  readonly connectTimeoutMs: number
  /**
   * How long an idle pooled connection is kept. Long by default: a new backend plans its first
   * statements with a cold catalog cache (~10 ms more on the partitioned tables), which a
   * console's burst after a pause would otherwise pay on every connection (pg's default: 10 s).
   */
  readonly poolIdleTimeoutMs: number
}

export const DatabaseSettingsConfig: Config.Config<DatabaseSettings> = Config.all({
  url: Config.option(
    checked("DATABASE_URL", Config.redacted("DATABASE_URL"), "must be a postgres:// or postgresql:// URL", (url) =>
      /^postgres(ql)?:\/\/\S+$/.test(Redacted.value(url)))
  ),
  embeddedPort: portConfig("EMBEDDED_PG_PORT", 54329),
  embeddedRuntimeDir: Config.string("EMBEDDED_PG_RUNTIME_DIR").pipe(
    Config.withDefault(DEFAULT_RUNTIME_DIR),
    Config.map((dir) => path.resolve(dir))
  ),
  poolMax: positiveInt("DB_POOL_MAX", 10),
  connectTimeoutMs: positiveInt("DB_CONNECT_TIMEOUT_MS", 5000),
  poolIdleTimeoutMs: positiveInt("DB_POOL_IDLE_TIMEOUT_MS", 300_000)
})
