/**
 * Tenant scoping and value formatting shared by the console's SQL. Every vendor query joins
 * `gateways g` and filters with `vendorGateways` — the tenant boundary lives in SQL.
 */
import type { SqlClient } from "@effect/sql"
import type { Statement } from "@effect/sql"
import { Schema } from "effect"

export const VendorScope = Schema.Struct({
  vendorId: Schema.String,
  /** Narrow to one gateway (checked to be the vendor's before the query runs). */
  gatewayId: Schema.optional(Schema.String)
})
export type VendorScope = typeof VendorScope.Type

/** `g.vendor_id = … [AND g.id = …]` for a `gateways g` in the query. */
export const vendorGateways = (sql: SqlClient.SqlClient, scope: VendorScope): Statement.Fragment =>
  scope.gatewayId === undefined
    ? sql`g.vendor_id = ${scope.vendorId}`
    : sql`g.vendor_id = ${scope.vendorId} AND g.id = ${scope.gatewayId}`

/** An optional `AND …` clause. */
export const andIf = (sql: SqlClient.SqlClient, condition: boolean, clause: () => Statement.Fragment): Statement.Fragment =>
  condition ? sql`AND ${clause()}` : sql.literal("")

/** Money out of SQL: numeric(38,18) without its trailing zeros, as text ("12.5", "0"). */
export const money = (column: string) => `trim_scale(${column})::text`
