/**
 * SQL of the vendor's priced routes. Every statement carries `vendor_id = caller`, so another
 * vendor's endpoint is simply not found. Uniqueness of (vendor, method, path) is the
 * database's job (`endpoints_vendor_method_path_key`); a violation becomes `EndpointTaken`.
 * A repository behind a tag (`EndpointsRepo` / `EndpointsRepoLive`), rows decoded as `Endpoint`.
 */
import { SqlClient, type SqlError, SqlSchema } from "@effect/sql"
import { Context, Data, Effect, Layer, Option, Schema } from "effect"
import { CreateEndpoint, Endpoint, UpdateEndpoint } from "../../schema/api/ConsoleEndpoints.js"
import type { Unavailable } from "./Errors.js"
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

/** `dbFailure` for everything but `EndpointTaken`, which the handler answers 409. */
const keepTaken = <A, E, R>(self: Effect.Effect<A, E | EndpointTaken, R>): Effect.Effect<A, EndpointTaken | Unavailable, R> =>
  Effect.catchAll(self, (error): Effect.Effect<never, EndpointTaken | Unavailable> =>
    error instanceof EndpointTaken ? Effect.fail(error) : dbFailure(Effect.fail(error)))

const ListInput = Schema.Struct({
  vendorId: Schema.String,
  gatewayId: Schema.optional(Schema.String),
  active: Schema.optional(Schema.Boolean),
  limit: Schema.Int,
  afterId: Schema.optional(Schema.String)
})
export type ListInput = typeof ListInput.Type

const ById = Schema.Struct({ vendorId: Schema.String, id: Schema.String })
const CreateRequest = Schema.Struct({ vendorId: Schema.String, input: CreateEndpoint })
const UpdateRequest = Schema.Struct({ vendorId: Schema.String, id: Schema.String, input: UpdateEndpoint })

const make = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient

  const findPage = SqlSchema.findAll({
    Request: ListInput,
    Result: Endpoint,
    execute: (input) =>
      sql`
    SELECT ${sql.literal(COLUMNS)} FROM endpoints
     WHERE vendor_id = ${input.vendorId}
       ${andIf(sql, input.gatewayId !== undefined, () => sql`gateway_id = ${input.gatewayId}`)}
       ${andIf(sql, input.active !== undefined, () => sql`active = ${input.active}`)}
       ${andIf(sql, input.afterId !== undefined, () => sql`id > ${input.afterId}::bigint`)}
     ORDER BY id LIMIT ${input.limit + 1}`
  })

  const findOne = SqlSchema.findOne({
    Request: ById,
    Result: Endpoint,
    execute: ({ id, vendorId }) =>
      sql`
    SELECT ${sql.literal(COLUMNS)} FROM endpoints WHERE id = ${id}::bigint AND vendor_id = ${vendorId}`
  })

  /** None when the vendor already has this method + path. */
  const insert = SqlSchema.findOne({
    Request: CreateRequest,
    Result: Endpoint,
    execute: ({ input, vendorId }) =>
      sql`
    INSERT INTO endpoints (vendor_id, gateway_id, method, path, price, asset, description, active)
    VALUES (${vendorId}, ${input.gateway_id ?? null}, ${input.method}, ${input.path}, ${input.price}::numeric,
            ${input.asset}, ${input.description ?? null}, ${input.active ?? true})
    ON CONFLICT ON CONSTRAINT endpoints_vendor_method_path_key DO NOTHING
    RETURNING ${sql.literal(COLUMNS)}`
  })

  const change = SqlSchema.findOne({
    Request: UpdateRequest,
    Result: Endpoint,
    execute: ({ id, input, vendorId }) => {
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
      return sql`
    UPDATE endpoints SET ${sql.join(", ", false)(sets)}
     WHERE id = ${id}::bigint AND vendor_id = ${vendorId}
    RETURNING ${sql.literal(COLUMNS)}`.pipe(Effect.catchIf(isUniqueViolation, () => new EndpointTaken()))
    }
  })

  const deleteOne = SqlSchema.findOne({
    Request: ById,
    Result: Schema.Struct({ id: Schema.String }),
    execute: ({ id, vendorId }) => sql`DELETE FROM endpoints WHERE id = ${id}::bigint AND vendor_id = ${vendorId} RETURNING id`
  })

  const list = Effect.fn("ConsoleRepo.listEndpoints")(function*(input: ListInput) {
    return yield* findPage(input)
  }, dbFailure)

  const get = Effect.fn("ConsoleRepo.getEndpoint")(function*(vendorId: string, id: string) {
    return yield* findOne({ vendorId, id })
  }, dbFailure)

  const create = Effect.fn("ConsoleRepo.createEndpoint")(function*(vendorId: string, input: CreateEndpoint) {
    const row = yield* insert({ vendorId, input })
    return Option.isNone(row) ? yield* new EndpointTaken() : row.value
  }, keepTaken)

  /** The changed endpoint, or None when the caller has no endpoint with this id. */
  const update = Effect.fn("ConsoleRepo.updateEndpoint")(function*(vendorId: string, id: string, input: UpdateEndpoint) {
    return yield* change({ vendorId, id, input })
  }, keepTaken)

  /** True when a row was deleted. */
  const remove = Effect.fn("ConsoleRepo.deleteEndpoint")(function*(vendorId: string, id: string) {
    return Option.isSome(yield* deleteOne({ vendorId, id }))
  }, dbFailure)

  return { list, get, create, update, remove } as const
})

export class EndpointsRepo extends Context.Tag("Console/EndpointsRepo")<EndpointsRepo, Effect.Effect.Success<typeof make>>() {}

export const EndpointsRepoLive = Layer.effect(EndpointsRepo, make)
