import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import type { HealthResponse } from "../../schema/api/Health.js"
import { AppSettingsService } from "../config/AppConfig.js"
import { DatabaseLocation, DatabaseStatus } from "../db/Database.js"
import { Api } from "../http/Api.js"
import { NotReady } from "./Api.js"
import { HealthChecks } from "./HealthChecks.js"

const report = Effect.gen(function*() {
  const settings = yield* AppSettingsService
  const db = yield* DatabaseStatus
  const location = yield* DatabaseLocation
  const checks = yield* HealthChecks
  const [state, reachable, components] = yield* Effect.all([db.state, db.ping, checks.snapshot], {
    concurrency: "unbounded"
  })
  const reason = state._tag === "Unavailable" ? state.reason : reachable ? undefined : "database did not answer a probe"
  const degraded = !reachable || state._tag !== "Ready" ||
    Object.values(components).some((component) => component.status === "degraded")
  const health: HealthResponse = {
    status: degraded ? "degraded" : "ok",
    version: settings.version,
    roles: [...settings.roles],
    database: {
      reachable,
      migrated: state._tag === "Ready",
      embedded: location.embedded,
      ...(reason === undefined ? {} : { reason })
    },
    components
  }
  return health
})

export const HealthHttpLive = HttpApiBuilder.group(Api, "health", (handlers) =>
  handlers
    .handle("health", () => report)
    .handle("ready", () =>
      Effect.flatMap(report, (health) =>
        health.database.reachable && health.database.migrated ? Effect.succeed(health) : Effect.fail(new NotReady({ health }))
      ))
)
