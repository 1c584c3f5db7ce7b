/**
 * Opaque, signed page cursors: `base64url(JSON [kind, values]) "." base64url(HMAC-SHA-256)`.
 *
 * The MAC covers the list (`kind`), the caller and the query's filters (`scope`), so a cursor
 * only continues the list, caller and filters that produced it: one edited by hand, taken
 * from another tenant or another list, or carrying values the server never printed is a 400
 * naming `cursor` before any SQL runs. The values are schema-checked as well (bounded times,
 * sequences inside bigint), so even a cursor signed under a leaked key cannot reach SQL with
 * a value PostgreSQL would refuse.
 *
 * Key: `CONSOLE_CURSOR_SECRET` (≥ 32 characters; set the same value on every api process),
 * else derived from the console's JWT secret — never the JWT secret itself.
 */
import { Config, ConfigError, Context, Effect, Either, Layer, Option, type ParseResult, Redacted, Schema } from "effect"
import { createHmac, timingSafeEqual } from "node:crypto"
import { JwtSecret } from "../auth/JwtSecret.js"
import { type InvalidParameter, invalidParameter } from "./Errors.js"

export class CursorKey extends Context.Tag("Console/CursorKey")<CursorKey, {
  readonly mac: (text: string) => Buffer
}>() {}

const MAC_BYTES = 16

const keyed = (key: Buffer) => CursorKey.of({ mac: (text) => createHmac("sha256", key).update(text).digest().subarray(0, MAC_BYTES) })

export const CursorSecretConfig = Config.option(
  Config.redacted("CONSOLE_CURSOR_SECRET").pipe(
    Config.mapOrFail((secret) =>
      Redacted.value(secret).length >= 32
        ? Either.right(secret)
        : Either.left(ConfigError.InvalidData(["CONSOLE_CURSOR_SECRET"], "must be at least 32 characters"))
    )
  )
)

/** The configured secret, else one derived from the JWT secret (needs `JwtSecret`). */
export const CursorKeyLive = Layer.effect(
  CursorKey,
  Effect.gen(function*() {
    const configured = yield* CursorSecretConfig
    if (Option.isSome(configured)) return keyed(Buffer.from(Redacted.value(configured.value), "utf8"))
    const { secret } = yield* JwtSecret
    return keyed(createHmac("sha256", Redacted.value(secret)).update("machpay-console-cursor-v1").digest())
  })
)

/** A fixed key, for tests. */
export const cursorKeyOf = (secret: string) => Layer.succeed(CursorKey, keyed(Buffer.from(secret, "utf8")))

/**
 * The scope a cursor is bound to: the caller and the query minus `cursor` and `limit` (a
 * client may change its page size between pages).
 */
export const cursorScope = (caller: string, query: object): string =>
  JSON.stringify([
    caller,
    Object.entries(query).filter(([key, value]) => key !== "cursor" && key !== "limit" && value !== undefined).sort(
      ([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)
    )
  ])

const signed = (kind: string, scope: string, body: string) => `${kind}\u0000${scope}\u0000${body}`

/** Signs any values as a cursor of `kind` (the encoder; tests use it to forge signed cursors). */
export const signCursor = (kind: string, scope: string, values: ReadonlyArray<unknown>) =>
  Effect.map(CursorKey, (key) => {
    const body = Buffer.from(JSON.stringify([kind, values]), "utf8").toString("base64url")
    return `${body}.${key.mac(signed(kind, scope, body)).toString("base64url")}`
  })

export const cursorOf = <const E extends ReadonlyArray<Schema.Schema.AnyNoContext>>(kind: string, ...elements: E) => {
  const decodeValues = Schema.decodeUnknown(
    Schema.parseJson(Schema.Tuple(Schema.Literal(kind), Schema.Tuple(...elements)))
  ) as (input: unknown) => Effect.Effect<readonly [string, Schema.Tuple<E>["Type"]], ParseResult.ParseError>
  const refuse = invalidParameter("cursor", "is not a cursor returned by this endpoint for this query")
  return {
    encode: (scope: string, ...values: Schema.Tuple<E>["Encoded"]): Effect.Effect<string, never, CursorKey> =>
      signCursor(kind, scope, values),
    decode: (scope: string, cursor: string): Effect.Effect<Schema.Tuple<E>["Type"], InvalidParameter, CursorKey> =>
      Effect.gen(function*() {
        const key = yield* CursorKey
        const [body = "", tag = "", ...rest] = cursor.split(".")
        const given = Buffer.from(tag, "base64url")
        const expected = key.mac(signed(kind, scope, body))
        if (rest.length > 0 || given.length !== expected.length || !timingSafeEqual(given, expected)) {
          return yield* refuse
        }
        const [, values] = yield* decodeValues(Buffer.from(body, "base64url").toString("utf8")).pipe(
          Effect.mapError(() => refuse)
        )
        return values
      })
  }
}
