/**
 * Every setting the server reads, checked once at start so a bad value stops the process with
 * one line naming the variable — not later, when the layer that reads it is first built.
 */
import { Config } from "effect"
import { DatabaseSettingsConfig } from "../db/DatabaseConfig.js"
import { IngestSettingsConfig } from "../ingest/IngestConfig.js"
import { AppSettingsConfig } from "./AppConfig.js"

export const StartupConfig = Config.all([AppSettingsConfig, DatabaseSettingsConfig, IngestSettingsConfig])
