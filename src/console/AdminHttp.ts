/** Handlers of the admin console group (`CurrentAdmin` required by the middleware). */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import { Effect } from "effect"
import { Api } from "../http/Api.js"
import { ConsoleSettingsService } from "./ConsoleConfig.js"
import { GatewayHealthRepo } from "./GatewayHealthRepo.js"
import { cursorOf, cursorScope } from "./Cursor.js"
import { CursorId, pageSize } from "./Params.js"
import { databaseReady } from "./Ready.js"

const gatewaysCursor = cursorOf("gateways", CursorId)

export const AdminConsoleHttpLive = HttpApiBuilder.group(Api, "consoleAdmin", (handlers) =>
  Effect.gen(function*() {
    const settings = yield* ConsoleSettingsService
    const { gateways } = yield* GatewayHealthRepo
    return handlers.handle("gateways", ({ urlParams: q }) =>
      Effect.gen(function*() {
        yield* databaseReady
        const scope = cursorScope("admin", q)
        const after = q.cursor === undefined ? undefined : yield* gatewaysCursor.decode(scope, q.cursor)
        const limit = pageSize(q.limit, 100)
        const page = yield* gateways({ settings, status: q.status, vendorId: q.vendor_id, limit, afterId: after?.[0] })
        const last = page.items[page.items.length - 1]
        return {
          as_of: page.as_of,
          thresholds: { stale_after_seconds: settings.staleAfterSeconds, silent_after_seconds: settings.silentAfterSeconds },
          counts: page.counts,
          items: page.items,
          next_cursor: page.more && last ? yield* gatewaysCursor.encode(scope, last.id) : null
        }
      }))
  }))
