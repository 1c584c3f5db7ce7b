import { Schema } from "effect"

export const ComponentStatus = Schema.Struct({
  status: Schema.Literal("ok", "degraded", "disabled").annotations({
    description: "ok: working; degraded: running but impaired (see reason); disabled: not run by this process's roles"
  }),
  reason: Schema.optional(Schema.String).annotations({ description: "Why the component is degraded" })
}).annotations({ identifier: "ComponentStatus" })

export const HealthResponse = Schema.Struct({
  status: Schema.Literal("ok", "degraded").annotations({ description: "degraded when any component is degraded" }),
  version: Schema.String.annotations({ description: "Application version" }),
  roles: Schema.Array(Schema.String).annotations({ description: "Roles this process runs (receiver, api, worker)" }),
  database: Schema.Struct({
    reachable: Schema.Boolean.annotations({ description: "Whether the database answered a probe just now" }),
    migrated: Schema.Boolean.annotations({ description: "Whether start-up migrations have been applied" }),
    embedded: Schema.Boolean.annotations({ description: "True when the embedded PostgreSQL is in use" }),
    reason: Schema.optional(Schema.String).annotations({ description: "Last connection error, when unreachable" })
  }),
  components: Schema.Record({ key: Schema.String, value: ComponentStatus }).annotations({
    description: "Per-component status (ingest pipeline, realtime hub, jobs …)"
  })
}).annotations({ identifier: "HealthResponse" })
export type HealthResponse = typeof HealthResponse.Type
