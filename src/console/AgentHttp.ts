/** Handlers of the agent console group; the caller is the token's agent (`CurrentAgent`). */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import { Effect, Schema } from "effect"
import { DEFAULT_RANGE_DAYS, MAX_AGGREGATE_RANGE_DAYS, MAX_LIST_RANGE_DAYS } from "../../schema/api/ConsoleCommon.js"
import { CurrentAgent } from "../auth/Authentication.js"
import { Api } from "../http/Api.js"
import { AgentRepo } from "./AgentRepo.js"
import { cursorOf, cursorScope } from "./Cursor.js"
import { CursorInt, CursorSeq, CursorTime, days, paged, pageSize, resolveRange } from "./Params.js"
import { invalidParameter } from "./Errors.js"
import { databaseReady } from "./Ready.js"

/** A seq, or an intent's "gateway/intent id" (up to 128 + 1 + 256 characters). */
const ActivityKey = Schema.String.pipe(Schema.pattern(/^[^\u0000-\u001f]{1,400}$/))
const activityCursor = cursorOf("activity", CursorTime, CursorInt, ActivityKey)

/** Intents (rank 2) page on their text key, every other source on its bigint seq. */
const INTENT_RANK = 2
/** An intent's key is "gateway/intent id" (cursors from before 2026-12-07 held the id alone: refused, not misread). */
const keyFits = (rank: number, key: string) => (rank === INTENT_RANK ? key.includes("/") : Schema.is(CursorSeq)(key))

export const AgentConsoleHttpLive = HttpApiBuilder.group(Api, "consoleAgent", (handlers) =>
  Effect.gen(function*() {
    const { activity, spending } = yield* AgentRepo
    return handlers
      .handle("activity", ({ urlParams: q }) =>
        Effect.gen(function*() {
          yield* databaseReady
          const { agentId } = yield* CurrentAgent
          const range = yield* resolveRange(q, { defaultMs: days(DEFAULT_RANGE_DAYS), maxMs: days(MAX_LIST_RANGE_DAYS) })
          const scope = cursorScope(`agent:${agentId}`, q)
          const after = q.cursor === undefined ? undefined : yield* activityCursor.decode(scope, q.cursor)
          if (after !== undefined && (after[1] > 3 || !keyFits(after[1], after[2]))) {
            return yield* invalidParameter("cursor", "is not a cursor returned by this endpoint for this query")
          }
          const limit = pageSize(q.limit)
          const rows = yield* activity({ agentId, range, type: q.type, limit, after })
          const page = yield* paged(rows, limit, (last) => activityCursor.encode(scope, ...last.cursor))
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
  }))
