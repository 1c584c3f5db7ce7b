/**
 * `/health` as metrics, so an alert can fire on what `/health` says: Prometheus scrapes `/metrics`,
 * not `/health`. Every 15 s: `health_database_up` (1 when the database answers a probe and is
 * migrated) and `health_component_up{component}` (1 while the component reports ok, 0 while
 * degraded). A route that stops committing without saying so is caught by the ingest counters
 * instead (deploy/alerts.yml, `IngestRouteNotCommitting`): these gauges are only as good as the
 * component's own report.
 */
import { Effect, Layer, Metric, Schedule } from "effect"
import { DatabaseStatus } from "../db/Database.js"
import { HealthChecks } from "./HealthChecks.js"

const databaseUp = Metric.gauge("health_database_up", {
  description: "1 when the database answers a probe and is migrated, else 0 (sampled every 15 s)"
})
const componentUp = Metric.gauge("health_component_up", {
  description: "1 while the component reports ok on /health, 0 while degraded, by component (sampled every 15 s)"
})

export const HealthMetricsLive = Layer.scopedDiscard(
  Effect.gen(function*() {
    const db = yield* DatabaseStatus
    const checks = yield* HealthChecks
    const sample = Effect.gen(function*() {
      const [state, reachable, components] = yield* Effect.all([db.state, db.ping, checks.snapshot], {
        concurrency: "unbounded"
      })
      yield* Metric.set(databaseUp, reachable && state._tag === "Ready" ? 1 : 0)
      for (const [name, component] of Object.entries(components)) {
        yield* Metric.set(Metric.tagged(componentUp, "component", name), component.status === "ok" ? 1 : 0)
      }
    })
    yield* sample.pipe(Effect.repeat(Schedule.spaced("15 seconds")), Effect.forkScoped)
  })
)
