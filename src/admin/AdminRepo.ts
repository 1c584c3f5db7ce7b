/**
 * SQL for the administered entities: vendors, their gateways (ingest keys), agents.
 * Used by the CLI. (The ingest path looks gateways up by key through its own `GatewayDirectory`.)
 * Ids arrive validated (branded by `schema/Ids.ts`); SQL and row-decoding failures are
 * defects here, "already exists" and "not found" are the domain errors below.
 */
import { SqlClient, SqlSchema } from "@effect/sql"
import { Data, Effect, Option, Schema } from "effect"
import { AgentId, GatewayId, VendorId } from "../../schema/Ids.js"

export type Entity = "vendor" | "gateway" | "agent"

export class EntityExists extends Data.TaggedError("EntityExists")<{
  readonly entity: Entity
  readonly id: string
}> {
  override get message(): string {
    return `${this.entity} ${this.id} already exists`
  }
}

export class EntityNotFound extends Data.TaggedError("EntityNotFound")<{
  readonly entity: Entity
  readonly id: string
}> {
  override get message(): string {
    return `${this.entity} ${this.id} not found`
  }
}

const Timestamp = Schema.DateFromSelf
const OptionalTimestamp = Schema.OptionFromNullOr(Schema.DateFromSelf)

export const VendorRow = Schema.Struct({
  id: VendorId,
  name: Schema.String,
  gateways: Schema.Number,
  activeGateways: Schema.Number,
  createdAt: Timestamp
})
export type VendorRow = typeof VendorRow.Type

export const GatewayRow = Schema.Struct({
  id: GatewayId,
  vendorId: VendorId,
  name: Schema.String,
  keyPrefix: Schema.OptionFromNullOr(Schema.String),
  rateLimitPerSec: Schema.OptionFromNullOr(Schema.Number),
  rateLimitBytesPerSec: Schema.OptionFromNullOr(Schema.Number),
  signed: Schema.Boolean,
  disabledAt: OptionalTimestamp,
  lastSeenAt: OptionalTimestamp,
  createdAt: Timestamp
})
export type GatewayRow = typeof GatewayRow.Type

export const AgentRow = Schema.Struct({
  id: AgentId,
  name: Schema.OptionFromNullOr(Schema.String),
  wallet: Schema.OptionFromNullOr(Schema.String),
  createdAt: Timestamp
})
export type AgentRow = typeof AgentRow.Type

/** What the receiver needs to authenticate a request made with an ingest key. */
/** The `GatewayRow` columns; `t` qualifies them where a join makes names ambiguous. */
const gatewayColumns = (sql: SqlClient.SqlClient, t = "gateways") =>
  sql`${sql(t)}.id, ${sql(t)}.vendor_id AS "vendorId", ${sql(t)}.name, ${sql(t)}.ingest_key_prefix AS "keyPrefix",
      ${sql(t)}.rate_limit_per_sec AS "rateLimitPerSec",
      ${sql(t)}.rate_limit_bytes_per_sec::float8 AS "rateLimitBytesPerSec", ${sql(t)}.signing_secret IS NOT NULL AS signed,
      ${sql(t)}.disabled_at AS "disabledAt", ${sql(t)}.last_seen_at AS "lastSeenAt", ${sql(t)}.created_at AS "createdAt"`

const exists = (sql: SqlClient.SqlClient, table: "vendors" | "agents", id: string) =>
  sql<{ readonly found: boolean }>`SELECT EXISTS (SELECT 1 FROM ${sql(table)} WHERE id = ${id}) AS found`.pipe(
    Effect.map((rows) => rows[0]?.found === true)
  )

const ensureExists = (entity: "vendor" | "agent", id: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    if (!(yield* exists(sql, entity === "vendor" ? "vendors" : "agents", id).pipe(Effect.orDie))) {
      return yield* new EntityNotFound({ entity, id })
    }
  })

export const requireVendor = (id: VendorId) => ensureExists("vendor", id).pipe(Effect.withSpan("AdminRepo.requireVendor"))
export const requireAgent = (id: AgentId) => ensureExists("agent", id).pipe(Effect.withSpan("AdminRepo.requireAgent"))

export const insertVendor = Effect.fn("AdminRepo.insertVendor")(function*(input: {
  readonly id: VendorId
  readonly name: string
}) {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql`INSERT INTO vendors (id, name) VALUES (${input.id}, ${input.name})
                          ON CONFLICT (id) DO NOTHING RETURNING id`.pipe(Effect.orDie)
  if (rows.length === 0) return yield* new EntityExists({ entity: "vendor", id: input.id })
})

export const listVendors = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  return yield* SqlSchema.findAll({
    Request: Schema.Void,
    Result: VendorRow,
    execute: () =>
      sql`SELECT v.id, v.name, v.created_at AS "createdAt", count(g.id)::int AS gateways,
                 (count(g.id) FILTER (WHERE g.disabled_at IS NULL))::int AS "activeGateways"
          FROM vendors v LEFT JOIN gateways g ON g.vendor_id = v.id
          GROUP BY v.id ORDER BY v.id`
  })(undefined)
}).pipe(Effect.orDie, Effect.withSpan("AdminRepo.listVendors"))

export interface NewGateway {
  readonly id: GatewayId
  readonly vendorId: VendorId
  readonly name: string
  readonly keyHash: string
  readonly keyPrefix: string
  readonly rateLimitPerSec: Option.Option<number>
  readonly rateLimitBytesPerSec: Option.Option<number>
  readonly signingSecret: Option.Option<string>
}

export const insertGateway = Effect.fn("AdminRepo.insertGateway")(function*(gateway: NewGateway) {
  const sql = yield* SqlClient.SqlClient
  // The vendor check rides in the INSERT so a missing vendor is a clean "not found", not an FK violation.
  const rows = yield* sql`
    INSERT INTO gateways (id, vendor_id, name, ingest_key_hash, ingest_key_prefix, signing_secret, rate_limit_per_sec,
                          rate_limit_bytes_per_sec)
    SELECT ${gateway.id}, v.id, ${gateway.name}, ${gateway.keyHash}, ${gateway.keyPrefix},
           ${Option.getOrNull(gateway.signingSecret)}::text, ${Option.getOrNull(gateway.rateLimitPerSec)}::int,
           ${Option.getOrNull(gateway.rateLimitBytesPerSec)}::bigint
    FROM vendors v WHERE v.id = ${gateway.vendorId}
    ON CONFLICT (id) DO NOTHING
    RETURNING id`.pipe(Effect.orDie)
  if (rows.length > 0) return
  yield* ensureExists("vendor", gateway.vendorId)
  return yield* new EntityExists({ entity: "gateway", id: gateway.id })
})

/** Replaces the gateway's key hash: from the commit on, only the new key authenticates. */
export const rotateGatewayKey = Effect.fn("AdminRepo.rotateGatewayKey")(function*(input: {
  readonly id: GatewayId
  readonly keyHash: string
  readonly keyPrefix: string
}) {
  const sql = yield* SqlClient.SqlClient
  const row = yield* SqlSchema.findOne({
    Request: GatewayId,
    Result: GatewayRow,
    execute: (id) =>
      sql`UPDATE gateways SET ingest_key_hash = ${input.keyHash}, ingest_key_prefix = ${input.keyPrefix}
          WHERE id = ${id} RETURNING ${gatewayColumns(sql)}`
  })(input.id).pipe(Effect.orDie)
  return yield* Option.match(row, {
    onNone: () => new EntityNotFound({ entity: "gateway", id: input.id }),
    onSome: Effect.succeed
  })
})

/** Disables (or re-enables) a gateway; `changed` is false when it already was in that state. */
export const setGatewayDisabled = Effect.fn("AdminRepo.setGatewayDisabled")(function*(
  id: GatewayId,
  disabled: boolean
) {
  const sql = yield* SqlClient.SqlClient
  const row = yield* SqlSchema.findOne({
    Request: GatewayId,
    Result: Schema.Struct({ ...GatewayRow.fields, changed: Schema.Boolean }),
    execute: (gatewayId) =>
      sql`WITH old AS (SELECT id, disabled_at FROM gateways WHERE id = ${gatewayId} FOR UPDATE)
          UPDATE gateways g
          SET disabled_at = CASE WHEN ${disabled} THEN COALESCE(old.disabled_at, now()) END
          FROM old WHERE g.id = old.id
          RETURNING ${gatewayColumns(sql, "g")}, (old.disabled_at IS NULL) = ${disabled} AS changed`
  })(id).pipe(Effect.orDie)
  return yield* Option.match(row, {
    onNone: () => new EntityNotFound({ entity: "gateway", id }),
    onSome: ({ changed, ...gateway }) => Effect.succeed({ gateway, changed })
  })
})

export const listGateways = (vendorId: Option.Option<VendorId>) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    if (Option.isSome(vendorId)) yield* ensureExists("vendor", vendorId.value)
    const vendor = Option.getOrNull(vendorId)
    return yield* SqlSchema.findAll({
      Request: Schema.Void,
      Result: GatewayRow,
      execute: () =>
        sql`SELECT ${gatewayColumns(sql)} FROM gateways
            WHERE ${vendor}::text IS NULL OR vendor_id = ${vendor}
            ORDER BY vendor_id, id`
    })(undefined).pipe(Effect.orDie)
  }).pipe(Effect.withSpan("AdminRepo.listGateways"))

export const insertAgent = Effect.fn("AdminRepo.insertAgent")(function*(agent: {
  readonly id: AgentId
  readonly name: Option.Option<string>
  readonly wallet: Option.Option<string>
}) {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql`INSERT INTO agents (id, name, wallet_address)
                          VALUES (${agent.id}, ${Option.getOrNull(agent.name)}, ${Option.getOrNull(agent.wallet)})
                          ON CONFLICT (id) DO NOTHING RETURNING id`.pipe(Effect.orDie)
  if (rows.length === 0) return yield* new EntityExists({ entity: "agent", id: agent.id })
})

export const listAgents = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  return yield* SqlSchema.findAll({
    Request: Schema.Void,
    Result: AgentRow,
    execute: () =>
      sql`SELECT id, name, wallet_address AS wallet, created_at AS "createdAt" FROM agents ORDER BY id`
  })(undefined)
}).pipe(Effect.orDie, Effect.withSpan("AdminRepo.listAgents"))
