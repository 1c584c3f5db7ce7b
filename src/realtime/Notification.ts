/**
 * The cross-process message: one committed batch → one transaction of `pg_notify` calls on
 * channel `machpay_realtime`. PostgreSQL limits a payload to 8000 bytes, so:
 *
 *   inline  {"v":1,"o":<instance>,"c":<commit ms>,"e":[[source,id,type,time,gateway,subject,data],…]}
 *           when the whole batch fits in one payload (usual for small batches);
 *   keys    {"v":1,"o":…,"c":…,"k":[[source,id,time],…]}, as many payloads as the keys need;
 *           the listener reads those rows back from `telemetry_events` (by primary key).
 *
 * `o` lets a process ignore its own notifications (it published to its hub directly).
 */
import { Either, type ParseResult, Schema } from "effect"
import { compileDecoder, FAIL } from "../ingest/FastDecode.js"
import type { LiveEventInput } from "./Topics.js"

export const CHANNEL = "machpay_realtime"

/** Below PostgreSQL's 8000-byte limit, with room to spare. */
export const MAX_PAYLOAD_BYTES = 7900

const Header = { v: Schema.Literal(1), o: Schema.String, c: Schema.Number }

const EventTuple = Schema.Tuple(
  Schema.String,
  Schema.String,
  Schema.String,
  Schema.String,
  Schema.String,
  Schema.NullOr(Schema.String),
  Schema.Unknown
)
const KeyTuple = Schema.Tuple(Schema.String, Schema.String, Schema.String)

const NotificationBody = Schema.Union(
  Schema.Struct({ ...Header, e: Schema.Array(EventTuple) }),
  Schema.Struct({ ...Header, k: Schema.Array(KeyTuple) })
)
export const Notification = Schema.parseJson(NotificationBody)
export type Notification = typeof Notification.Type

const decodeFull = Schema.decodeUnknownEither(Notification)
const decodeFast = compileDecoder(NotificationBody)

/** A payload → its notification (compiled decoder; the schema words a failure). */
export const decodeNotification = (payload: string): Either.Either<Notification, ParseResult.ParseError> => {
  try {
    const body = decodeFast(JSON.parse(payload))
    if (body !== FAIL) return Either.right(body)
  } catch {
    // not JSON: the schema says so below
  }
  return decodeFull(payload)
}

/** How every payload of `origin` starts. */
const originPrefix = (origin: string) => `{"v":1,"o":${JSON.stringify(origin)},`

const header = (origin: string, commitMs: number) => `${originPrefix(origin)}"c":${commitMs},`

/** Whether `origin` sent this payload, read off its header without parsing the rest. */
export const isFrom = (payload: string, origin: string): boolean => payload.startsWith(originPrefix(origin))

export interface EventKey {
  readonly source: string
  readonly id: string
  readonly time: string
}

export const eventOfTuple = (t: typeof EventTuple.Type): LiveEventInput => ({
  source: t[0],
  id: t[1],
  type: t[2],
  time: t[3],
  gatewayId: t[4],
  subject: t[5] ?? undefined,
  data: t[6]
})

export const keyOfTuple = (t: typeof KeyTuple.Type): EventKey => ({ source: t[0], id: t[1], time: t[2] })

const bytes = (s: string): number => Buffer.byteLength(s, "utf8")

/** Payloads for one batch: inline when it fits in one, otherwise keys split over as many as needed. */
export const encodeBatch = (
  origin: string,
  commitMs: number,
  events: ReadonlyArray<LiveEventInput>
): { readonly mode: "inline" | "keys"; readonly payloads: ReadonlyArray<string> } => {
  const head = header(origin, commitMs)
  // Built event by event, and given up as soon as it cannot fit (most batches are large).
  const tuples: Array<string> = []
  let inlineBytes = bytes(head) + 7
  for (const e of events) {
    const tuple = JSON.stringify([e.source, e.id, e.type, e.time, e.gatewayId, e.subject ?? null, e.data ?? null])
    inlineBytes += bytes(tuple) + 1
    if (inlineBytes > MAX_PAYLOAD_BYTES) break
    tuples.push(tuple)
  }
  if (tuples.length === events.length) return { mode: "inline", payloads: [`${head}"e":[${tuples.join(",")}]}`] }
  const payloads: Array<string> = []
  const open = `${head}"k":[`
  let current: Array<string> = []
  let size = bytes(open) + 2
  for (const event of events) {
    const key = JSON.stringify([event.source, event.id, event.time])
    const keyBytes = bytes(key) + 1
    if (current.length > 0 && size + keyBytes > MAX_PAYLOAD_BYTES) {
      payloads.push(`${open}${current.join(",")}]}`)
      current = []
      size = bytes(open) + 2
    }
    current.push(key)
    size += keyBytes
  }
  if (current.length > 0) payloads.push(`${open}${current.join(",")}]}`)
  return { mode: "keys", payloads }
}
