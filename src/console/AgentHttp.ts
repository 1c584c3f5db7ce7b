/** Handlers of the agent console group; the caller is the token's agent (`CurrentAgent`). */
import { HttpApiBuilder } from "@effect/platform"
import { Effect, Schema } from "effect"
import { DEFAULT_RANGE_DAYS, MAX_AGGREGATE_RANGE_DAYS, MAX_LIST_RANGE_DAYS } from "../../schema/api/ConsoleCommon.js"
import { CurrentAgent } from "../auth/Authentication.js"
import { Api } from "../http/Api.js"
import { activity, spending } from "./AgentRepo.js"
import { CursorInt, CursorTime, cursorOf, days, paged, pageSize, resolveRange } from "./Params.js"
import { databaseReady } from "./Ready.js"

const activityCursor = cursorOf("activity", CursorTime, CursorInt, Schema.String)

export const AgentConsoleHttpLive = HttpApiBuilder.group(Api, "consoleAgent", (handlers) =>
  handlers
    .handle("activity", ({ urlParams: q }) =>
      Effect.gen(function*() {
        yield* databaseReady
        const { agentId } = yield* CurrentAgent
        const range = yield* resolveRange(q, { defaultMs: days(DEFAULT_RANGE_DAYS), maxMs: days(MAX_LIST_RANGE_DAYS) })
        const after = q.cursor === undefined ? undefined : yield* activityCursor.decode(q.cursor)
        const limit = pageSize(q.limit)
        const rows = yield* activity({ agentId, range, type: q.type, limit, after })
        const page = paged(rows, limit, (last) => activityCursor.encode(...last.cursor))
        return { from: range.from, to: range.to, items: page.items.map((r) => r.item), next_cursor: page.next_cursor }
      }))
    .handle("spending", ({ urlParams: q }) =>
      Effect.gen(function*() {
        yield* databaseReady
        const { agentId } = yield* CurrentAgent
        const range = yield* resolveRange(q, { defaultMs: days(DEFAULT_RANGE_DAYS), maxMs: days(MAX_AGGREGATE_RANGE_DAYS) })
        const groupBy = q.group_by ?? "vendor"
        const result = yield* spending(agentId, range, groupBy, q.limit ?? 100)
        return { from: range.from, to: range.to, group_by: groupBy, ...result }
      }))
)
