/** Handlers of the vendor console group; the tenant is the token's vendor (`CurrentVendor`). */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import { Effect, Option, Schema } from "effect"
import {
  DEFAULT_RANGE_DAYS,
  MAX_AGGREGATE_RANGE_DAYS,
  MAX_HOURLY_RANGE_DAYS,
  MAX_LIST_RANGE_DAYS
} from "../../schema/api/ConsoleCommon.js"
import { CurrentVendor } from "../auth/Authentication.js"
import { Api } from "../http/Api.js"
import { EndpointsRepo } from "./EndpointsRepo.js"
import { Conflict, invalidParameter, NotFound } from "./Errors.js"
import { ListsRepo } from "./ListsRepo.js"
import { RejectionsRepo } from "./RejectionsRepo.js"
import { ConsumersRepo } from "./ConsumersRepo.js"
import { MetricsRepo } from "./MetricsRepo.js"
import { cursorOf, cursorScope } from "./Cursor.js"
import { compareDecimals, CursorDecimal, CursorId, CursorInt, CursorSeq, CursorTime, days, hours, paged, pageSize, resolveRange } from "./Params.js"
import { databaseReady } from "./Ready.js"
import type { VendorScope } from "./Scope.js"
import { VendorRepo } from "./VendorRepo.js"

const paymentsCursor = cursorOf("payments", CursorTime, CursorSeq)
const alertsCursor = cursorOf("alerts", CursorTime, CursorInt, CursorSeq)
const ConsumerSortKey = Schema.Literal("spend", "payments", "last_seen", "first_seen")
const consumersCursor = cursorOf("consumers", ConsumerSortKey, Schema.Union(CursorDecimal, CursorTime), CursorId, CursorTime)
const endpointsCursor = cursorOf("endpoints", CursorSeq)
const rejectionsCursor = cursorOf("rejections", CursorTime, CursorSeq)

/** The sort value of a consumers cursor must have its sort's SQL type. */
const sortValueFits = (sort: string, value: string) =>
  sort === "spend" ? Schema.is(CursorDecimal)(value) : sort === "payments" ? Schema.is(CursorSeq)(value) : Schema.is(CursorTime)(value)

/** Cursors are bound to the caller and the query that produced them. */
const vendorScope = (query: object) => Effect.map(CurrentVendor, ({ vendorId }) => cursorScope(`vendor:${vendorId}`, query))

/** Aggregates default to the last 30 UTC days, today included (so only today is read raw). */
const aggregate = { defaultMs: days(DEFAULT_RANGE_DAYS), maxMs: days(MAX_AGGREGATE_RANGE_DAYS), align: "day" } as const
const list = { defaultMs: days(DEFAULT_RANGE_DAYS), maxMs: days(MAX_LIST_RANGE_DAYS) }

/** The caller's scope, narrowed to `gatewayId` when it is one of theirs (else 404). */
const scopeOf = (gatewayId: string | undefined) =>
  Effect.gen(function*() {
    yield* databaseReady
    const { vendorId } = yield* CurrentVendor
    const vendorRepo = yield* VendorRepo
    if (gatewayId !== undefined && !(yield* vendorRepo.ownsGateway(vendorId, gatewayId))) {
      return yield* new NotFound({ message: `gateway ${gatewayId} not found` })
    }
    const scope: VendorScope = { vendorId, gatewayId }
    return scope
  })

const optionalCursor = <A, E, R>(cursor: string | undefined, decode: (c: string) => Effect.Effect<A, E, R>) =>
  cursor === undefined ? Effect.succeed(undefined) : decode(cursor)

const endpointNotFound = (id: string) => new NotFound({ message: `endpoint ${id} not found` })
const endpointTaken = () => new Conflict({ message: "you already have an endpoint with this method and path" })

export const VendorConsoleHttpLive = HttpApiBuilder.group(Api, "consoleVendor", (handlers) =>
  Effect.gen(function*() {
    const vendorRepo = yield* VendorRepo
    const endpointsRepo = yield* EndpointsRepo
    const listsRepo = yield* ListsRepo
    const { consumers } = yield* ConsumersRepo
    const { metrics } = yield* MetricsRepo
    const { rejections } = yield* RejectionsRepo
    return handlers
      .handle("stats", ({ urlParams: q }) =>
        Effect.gen(function*() {
          const range = yield* resolveRange(q, aggregate)
          const scope = yield* scopeOf(q.gateway_id)
          return yield* vendorRepo.stats(scope, range)
        }))
      .handle("revenueHistory", ({ urlParams: q }) =>
        Effect.gen(function*() {
          const granularity = q.granularity ?? "day"
          const range = yield* resolveRange(
            q,
            granularity === "day"
              ? aggregate
              : { defaultMs: hours(48), maxMs: days(MAX_HOURLY_RANGE_DAYS), align: "hour" }
          )
          const scope = yield* scopeOf(q.gateway_id)
          const points = yield* vendorRepo.revenueHistory(scope, range, granularity, q.asset)
          return { from: range.from, to: range.to, granularity, points }
        }))
      .handle("consumers", ({ urlParams: q }) =>
        Effect.gen(function*() {
          const sort = q.sort ?? "spend"
          const bound = yield* vendorScope(q)
          const cursor = yield* optionalCursor(q.cursor, (c) => consumersCursor.decode(bound, c))
          if (cursor !== undefined && (cursor[0] !== sort || !sortValueFits(sort, cursor[1]))) {
            return yield* invalidParameter("cursor", `is not a cursor of sort=${sort}`)
          }
          // Later pages keep the first page's `to`, so the ranking they continue does not move.
          const range = yield* resolveRange(cursor === undefined ? q : { ...q, to: cursor[3] }, aggregate)
          const scope = yield* scopeOf(q.gateway_id)
          const page = yield* consumers({
            scope,
            split: range,
            asset: q.asset,
            sort,
            limit: pageSize(q.limit),
            after: cursor === undefined ? undefined : [cursor[1], cursor[2]]
          })
          return {
            from: range.from,
            to: range.to,
            items: page.items,
            next_cursor: page.next === undefined
              ? null
              : yield* consumersCursor.encode(bound, sort, page.next[0], page.next[1], range.to)
          }
        }))
      .handle("listEndpoints", ({ urlParams: q }) =>
        Effect.gen(function*() {
          const scope = yield* scopeOf(q.gateway_id)
          const bound = yield* vendorScope(q)
          const cursor = yield* optionalCursor(q.cursor, (c) => endpointsCursor.decode(bound, c))
          const limit = pageSize(q.limit)
          const rows = yield* endpointsRepo.list({
            vendorId: scope.vendorId,
            gatewayId: scope.gatewayId,
            active: q.active === undefined ? undefined : q.active === "true",
            limit,
            afterId: cursor?.[0]
          })
          return yield* paged(rows, limit, (last) => endpointsCursor.encode(bound, last.id))
        }))
      .handle("getEndpoint", ({ path }) =>
        Effect.gen(function*() {
          const { vendorId } = yield* scopeOf(undefined)
          return yield* Effect.flatMap(endpointsRepo.get(vendorId, path.id), Option.match({
            onNone: () => Effect.fail(endpointNotFound(path.id)),
            onSome: Effect.succeed
          }))
        }))
      .handle("createEndpoint", ({ payload }) =>
        Effect.gen(function*() {
          const { vendorId } = yield* scopeOf(payload.gateway_id ?? undefined)
          return yield* endpointsRepo.create(vendorId, payload).pipe(Effect.catchTag("EndpointTaken", endpointTaken))
        }))
      .handle("updateEndpoint", ({ path, payload }) =>
        Effect.gen(function*() {
          if (Object.values(payload).every((value) => value === undefined)) {
            return yield* invalidParameter("body", "must change at least one field")
          }
          const { vendorId } = yield* scopeOf(payload.gateway_id ?? undefined)
          const updated = yield* endpointsRepo.update(vendorId, path.id, payload).pipe(
            Effect.catchTag("EndpointTaken", endpointTaken)
          )
          return yield* Option.match(updated, { onNone: () => Effect.fail(endpointNotFound(path.id)), onSome: Effect.succeed })
        }))
      .handle("deleteEndpoint", ({ path }) =>
        Effect.gen(function*() {
          const { vendorId } = yield* scopeOf(undefined)
          if (!(yield* endpointsRepo.remove(vendorId, path.id))) return yield* endpointNotFound(path.id)
        }))
      .handle("metrics", ({ urlParams: q }) =>
        Effect.gen(function*() {
          const range = yield* resolveRange(q, { defaultMs: hours(24), maxMs: days(MAX_HOURLY_RANGE_DAYS), align: "hour" })
          return yield* metrics(yield* scopeOf(q.gateway_id), range)
        }))
      .handle("payments", ({ urlParams: q }) =>
        Effect.gen(function*() {
          const range = yield* resolveRange(q, list)
          if (q.min_amount !== undefined && q.max_amount !== undefined && compareDecimals(q.min_amount, q.max_amount) > 0) {
            return yield* invalidParameter("max_amount", "must not be less than min_amount")
          }
          const bound = yield* vendorScope(q)
          const after = yield* optionalCursor(q.cursor, (c) => paymentsCursor.decode(bound, c))
          const limit = pageSize(q.limit)
          const rows = yield* listsRepo.payments({
            scope: yield* scopeOf(q.gateway_id),
            range,
            agentId: q.agent_id,
            asset: q.asset,
            network: q.network,
            minAmount: q.min_amount,
            maxAmount: q.max_amount,
            limit,
            after
          })
          const page = yield* paged(rows, limit, (last) => paymentsCursor.encode(bound, last.payment.event_time, last.seq))
          return { from: range.from, to: range.to, items: page.items.map((r) => r.payment), next_cursor: page.next_cursor }
        }))
      .handle("alerts", ({ urlParams: q }) =>
        Effect.gen(function*() {
          const range = yield* resolveRange(q, list)
          const bound = yield* vendorScope(q)
          const after = yield* optionalCursor(q.cursor, (c) => alertsCursor.decode(bound, c))
          const limit = pageSize(q.limit)
          const rows = yield* listsRepo.alerts({
            scope: yield* scopeOf(q.gateway_id),
            range,
            kind: q.kind,
            severity: q.severity,
            agentId: q.agent_id,
            limit,
            after
          })
          const page = yield* paged(rows, limit, (last) => alertsCursor.encode(bound, ...last.cursor))
          return { from: range.from, to: range.to, items: page.items.map((r) => r.alert), next_cursor: page.next_cursor }
        }))
      .handle("rejections", ({ urlParams: q }) =>
        Effect.gen(function*() {
          const range = yield* resolveRange(q, list)
          const bound = yield* vendorScope(q)
          const after = yield* optionalCursor(q.cursor, (c) => rejectionsCursor.decode(bound, c))
          const limit = pageSize(q.limit)
          const rows = yield* rejections({ scope: yield* scopeOf(q.gateway_id), range, limit, after })
          const page = yield* paged(rows, limit, (last) => rejectionsCursor.encode(bound, last.rejection.received_at, last.id))
          return { from: range.from, to: range.to, items: page.items.map((r) => r.rejection), next_cursor: page.next_cursor }
        }))
  }))
