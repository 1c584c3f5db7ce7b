/**
 * Components report their condition here; `/health` shows them all. A feature registers a
 * probe in its own layer so the health module needs no knowledge of the features.
 */
import { Context, Effect, Layer, Ref } from "effect"
import type { ComponentStatus } from "../../schema/api/Health.js"

type Status = typeof ComponentStatus.Type

export class HealthChecks extends Context.Tag("Health/Checks")<HealthChecks, {
  readonly register: (name: string, probe: Effect.Effect<Status>) => Effect.Effect<void>
  readonly snapshot: Effect.Effect<Record<string, Status>>
}>() {
  static readonly Live = Layer.effect(
    HealthChecks,
    Effect.gen(function*() {
      const probes = yield* Ref.make(new Map<string, Effect.Effect<Status>>())
      return {
        register: (name, probe) => Ref.update(probes, (map) => new Map(map).set(name, probe)),
        snapshot: Effect.flatMap(Ref.get(probes), (map) =>
          Effect.forEach([...map], ([name, probe]) => Effect.map(probe, (status) => [name, status] as const), {
            concurrency: "unbounded"
          }).pipe(Effect.map((entries) => Object.fromEntries(entries)))
        )
      }
    })
  )
}
