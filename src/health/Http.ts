import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import { Effect, Option } from "effect"
import type { HealthResponse } from "../../schema/api/Health.js"
import { AppSettingsService } from "../config/AppConfig.js"
import { DatabaseLocation, DatabaseStatus } from "../db/Database.js"
import { Api } from "../http/Api.js"
import { NotReady } from "./Api.js"
import { HealthChecks } from "./HealthChecks.js"

/**
 * `/health` is public: a driver's error text can name hosts, users and databases, so it is not
 * shown (the database layer logs it). What an operator needs from here is the kind of failure:
 * the system error code when there is one. The embedded server's start failure is our own
 * sentence (what failed and how to fix it, also logged), so it is shown as is.
 */
const SYSTEM_CODE = /\b(ECONNREFUSED|ECONNRESET|ENOTFOUND|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN)\b/

export const publicReason = (reason: string, ours: boolean): string => {
  if (ours) return reason
  const code = SYSTEM_CODE.exec(reason)?.[1]
  return code === undefined
    ? "the database is unavailable; the server log has the details"
    : `cannot use the database (${code}); the server log has the details`
}

/**
 * A component's reason is our sentence, then ": " and the cause's text; only the sentence (and a
 * system error code) is public.
 */
export const publicComponentReason = (reason: string): string => {
  const colon = reason.indexOf(": ")
  const code = SYSTEM_CODE.exec(reason)?.[1]
  return colon < 0 && code === undefined
    ? reason
    : `${colon < 0 ? "failing" : reason.slice(0, colon)}${code === undefined ? "" : ` (${code})`}; the server log has the details`
}

const report = Effect.gen(function*() {
  const settings = yield* AppSettingsService
  const db = yield* DatabaseStatus
  const location = yield* DatabaseLocation
  const checks = yield* HealthChecks
  const [state, reachable, components] = yield* Effect.all([db.state, db.ping, checks.snapshot], {
    concurrency: "unbounded"
  })
  const reason = state._tag === "Unavailable"
    ? publicReason(state.reason, location.embedded && Option.isSome(location.unavailable))
    : reachable
    ? undefined
    : "database did not answer a probe"
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
    components: Object.fromEntries(
      Object.entries(components).map(([name, component]) => [
        name,
        component.reason === undefined ? component : { ...component, reason: publicComponentReason(component.reason) }
      ])
    )
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
