/**
 * Every setting the server reads, checked once at start so a bad value stops the process with
 * one line naming the variable — not later, when the layer that reads it is first built.
 * Beside the composition root on purpose: it is the one module that knows every feature, so
 * the ground floor (`config/`) imports none.
 */
import { Config } from "effect"
import { JwtSecretConfig } from "./auth/JwtSecret.js"
import { AuthSettingsConfig } from "./auth/AuthConfig.js"
import { ConsoleSettingsConfig } from "./console/ConsoleConfig.js"
import { DatabaseSettingsConfig } from "./db/DatabaseConfig.js"
import { IngestSettingsConfig } from "./ingest/IngestConfig.js"
import { IngestStreamConfig } from "./ingest/stream/StreamConfig.js"
import { JobsSettingsConfig } from "./jobs/JobsConfig.js"
import { JournalSettingsConfig } from "./journal/JournalConfig.js"
import { BusConfig } from "./realtime/nats/NatsConfig.js"
import { RealtimeSettingsConfig } from "./realtime/RealtimeConfig.js"
import { AppSettingsConfig } from "./config/AppConfig.js"

export const StartupConfig = Config.all([
  AppSettingsConfig,
  DatabaseSettingsConfig,
  IngestSettingsConfig,
  IngestStreamConfig,
  JournalSettingsConfig,
  AuthSettingsConfig,
  JwtSecretConfig,
  ConsoleSettingsConfig,
  RealtimeSettingsConfig,
  BusConfig,
  JobsSettingsConfig
])
