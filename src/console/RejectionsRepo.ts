/**
 * SQL of `GET /v1/vendor/rejections`: the dead letters of the vendor's gateways, newest first,
 * keyset-paginated on (received_at, id). Read per gateway along
 * `dead_letters_gateway_page_idx (gateway_id, received_at DESC, id DESC)` (migration 0032),
 * each stopping after `limit + 1` rows, then merged — like the other vendor lists.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import type { Rejection } from "../../schema/api/ConsoleVendor.js"
import { dbFailure } from "./Failures.js"
import type { Range } from "./Params.js"
import { type VendorScope, vendorGateways } from "./Scope.js"

/** (received_at, id) of the last row of the previous page. */
export type RejectionAfter = readonly [time: string, id: string]

export interface RejectionsInput {
  readonly scope: VendorScope
  readonly range: Range
  readonly limit: number
  readonly after: RejectionAfter | undefined
}

export const rejections = Effect.fn("ConsoleRepo.rejections")(function*(input: RejectionsInput) {
  const sql = yield* SqlClient.SqlClient
  const keyset = input.after === undefined
    ? sql.literal("")
    : sql`AND (d.received_at, d.id) < (${input.after[0]}::timestamptz, ${input.after[1]}::bigint)`
  const rows = yield* sql<Rejection & { id: string }>`
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
  return rows.map(({ id, ...rejection }) => ({ rejection, id }))
}, dbFailure)
