/**
 * SQL of the vendor's priced routes. Every statement carries `vendor_id = caller`, so another
 * vendor's endpoint is simply not found. Uniqueness of (vendor, method, path) is the
 * database's job (`endpoints_vendor_method_path_key`); a violation becomes `EndpointTaken`.
 */
import { SqlClient, type SqlError } from "@effect/sql"
import { Data, Effect, Option } from "effect"
import type { CreateEndpoint, Endpoint, UpdateEndpoint } from "../../schema/api/ConsoleEndpoints.js"
import { dbFailure } from "./Failures.js"
import { andIf, money } from "./Scope.js"

/** The vendor already prices this method + path. */
export class EndpointTaken extends Data.TaggedError("EndpointTaken")<{}> {}

const COLUMNS = `id::text AS id, gateway_id, method, path, ${money("price")} AS price, asset, description, active,
  rfc3339_utc(created_at) AS created_at, rfc3339_utc(updated_at) AS updated_at`

const isUniqueViolation = (error: SqlError.SqlError): boolean => {
  const cause: unknown = error.cause
  return typeof cause === "object" && cause !== null && "code" in cause && cause.code === "23505"
}

export interface ListInput {
  readonly vendorId: string
  readonly gatewayId?: string | undefined
  readonly active?: boolean | undefined
  readonly limit: number
  readonly afterId?: string | undefined
}

export const list = Effect.fn("ConsoleRepo.listEndpoints")(function*(input: ListInput) {
  const sql = yield* SqlClient.SqlClient
  return yield* sql<Endpoint>`
    SELECT ${sql.literal(COLUMNS)} FROM endpoints
     WHERE vendor_id = ${input.vendorId}
       ${andIf(sql, input.gatewayId !== undefined, () => sql`gateway_id = ${input.gatewayId}`)}
       ${andIf(sql, input.active !== undefined, () => sql`active = ${input.active}`)}
       ${andIf(sql, input.afterId !== undefined, () => sql`id > ${input.afterId}::bigint`)}
     ORDER BY id LIMIT ${input.limit + 1}`
}, dbFailure)

export const get = Effect.fn("ConsoleRepo.getEndpoint")(function*(vendorId: string, id: string) {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<Endpoint>`
    SELECT ${sql.literal(COLUMNS)} FROM endpoints WHERE id = ${id}::bigint AND vendor_id = ${vendorId}`
  return Option.fromNullable(rows[0])
}, dbFailure)

export const create = Effect.fn("ConsoleRepo.createEndpoint")(function*(vendorId: string, input: CreateEndpoint) {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<Endpoint>`
    INSERT INTO endpoints (vendor_id, gateway_id, method, path, price, asset, description, active)
    VALUES (${vendorId}, ${input.gateway_id ?? null}, ${input.method}, ${input.path}, ${input.price}::numeric,
            ${input.asset}, ${input.description ?? null}, ${input.active ?? true})
    ON CONFLICT ON CONSTRAINT endpoints_vendor_method_path_key DO NOTHING
    RETURNING ${sql.literal(COLUMNS)}`
  const row = rows[0]
  return row === undefined ? yield* new EndpointTaken() : row
}, (effect) => Effect.catchTag(effect, "SqlError", (error) => dbFailure(Effect.fail(error))))

/** The changed endpoint, or None when the caller has no endpoint with this id. */
export const update = Effect.fn("ConsoleRepo.updateEndpoint")(function*(vendorId: string, id: string, input: UpdateEndpoint) {
  const sql = yield* SqlClient.SqlClient
  const sets = [
    input.method === undefined ? undefined : sql`method = ${input.method}`,
    input.path === undefined ? undefined : sql`path = ${input.path}`,
    input.price === undefined ? undefined : sql`price = ${input.price}::numeric`,
    input.asset === undefined ? undefined : sql`asset = ${input.asset}`,
    input.description === undefined ? undefined : sql`description = ${input.description}`,
    input.active === undefined ? undefined : sql`active = ${input.active}`,
    input.gateway_id === undefined ? undefined : sql`gateway_id = ${input.gateway_id}`,
    sql`updated_at = now()`
  ].filter((s) => s !== undefined)
  const rows = yield* sql<Endpoint>`
    UPDATE endpoints SET ${sql.join(", ", false)(sets)}
     WHERE id = ${id}::bigint AND vendor_id = ${vendorId}
    RETURNING ${sql.literal(COLUMNS)}`.pipe(Effect.catchIf(isUniqueViolation, () => new EndpointTaken()))
  return Option.fromNullable(rows[0])
}, (effect) => Effect.catchTag(effect, "SqlError", (error) => dbFailure(Effect.fail(error))))

/** True when a row was deleted. */
export const remove = Effect.fn("ConsoleRepo.deleteEndpoint")(function*(vendorId: string, id: string) {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql`DELETE FROM endpoints WHERE id = ${id}::bigint AND vendor_id = ${vendorId} RETURNING id`
  return rows.length > 0
}, dbFailure)
