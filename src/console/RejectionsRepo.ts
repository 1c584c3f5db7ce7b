/**
 * SQL of `GET /v1/vendor/rejections`: the dead letters of the vendor's gateways, newest first,
 * keyset-paginated on (received_at, id). Read per gateway along
 * `dead_letters_gateway_page_idx (gateway_id, received_at DESC, id DESC)` (migration 0032),
 * each stopping after `limit + 1` rows, then merged — like the other vendor lists.
 * A repository behind a tag (`RejectionsRepo` / `RejectionsRepoLive`), rows decoded as `Rejection`.
 */
import { SqlClient, SqlSchema } from "@effect/sql"
import { Context, Effect, Layer, Schema } from "effect"
import { Rejection } from "../../schema/api/ConsoleVendor.js"
import { dbFailure } from "./Failures.js"
import { Range } from "./Params.js"
import { VendorScope, vendorGateways } from "./Scope.js"

/** (received_at, id) of the last row of the previous page. */
const RejectionAfter = Schema.Tuple(Schema.String, Schema.String)
export type RejectionAfter = readonly [time: string, id: string]

const RejectionsInput = Schema.Struct({
  scope: VendorScope,
  range: Range,
  limit: Schema.Int,
  after: Schema.UndefinedOr(RejectionAfter)
})
export type RejectionsInput = typeof RejectionsInput.Type

const RejectionRow = Schema.Struct({ ...Rejection.fields, id: Schema.String })

const make = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient

  const findPage = SqlSchema.findAll({
    Request: RejectionsInput,
    Result: RejectionRow,
    execute: (input) => {
      const keyset = input.after === undefined
        ? sql.literal("")
        : sql`AND (d.received_at, d.id) < (${input.after[0]}::timestamptz, ${input.after[1]}::bigint)`
      return sql`
    SELECT rfc3339_utc(y.received_at) AS received_at, y.gateway_id, y.type, y.reason, y.field, y.event_id, y.source,
           y.payload_bytes, y.id::text AS id
      FROM gateways g CROSS JOIN LATERAL (
        SELECT d.id, d.received_at, d.gateway_id, d.type, d.reason, d.field, d.event_id, d.source, d.payload_bytes
          FROM dead_letters d
         WHERE d.gateway_id = g.id
           AND d.received_at >= ${input.range.from}::timestamptz AND d.received_at < ${input.range.to}::timestamptz
           ${keyset}
         ORDER BY d.received_at DESC, d.id DESC
         LIMIT ${input.limit + 1}) y
     WHERE ${vendorGateways(sql, input.scope)}
     ORDER BY y.received_at DESC, y.id DESC
     LIMIT ${input.limit + 1}`
    }
  })

  const rejections = Effect.fn("ConsoleRepo.rejections")(function*(input: RejectionsInput) {
    const rows = yield* findPage(input)
    return rows.map(({ id, ...rejection }) => ({ rejection, id }))
  }, dbFailure)

  return { rejections } as const
})

export class RejectionsRepo extends Context.Tag("Console/RejectionsRepo")<RejectionsRepo, Effect.Effect.Success<typeof make>>() {}

export const RejectionsRepoLive = Layer.effect(RejectionsRepo, make)
