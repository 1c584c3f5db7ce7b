/**
 * One batch on the wire: JSON array → gzip → sign → `POST /v1/ingest`, and the answer sorted
 * into what the sender does next, following the receiver's contract (docs/ingest.md):
 *
 * - 200/202 → delivered, with per-event outcomes; a 400 whose body is an `IngestResponse`
 *   (every event rejected) is delivered too — re-sending cannot help;
 * - 429/503 → wait exactly `Retry-After`, then re-send (nothing was written);
 * - 401 `replayed_request` → an earlier copy of this signed request was accepted (its answer
 *   was lost): delivered;
 * - other 4xx → refused for good (bad key, disabled gateway, body too large …);
 * - no answer, or another 5xx → re-send after an exponential backoff with jitter.
 */
import { promisify } from "node:util"
import * as zlib from "node:zlib"
import { Clock, Duration, Effect, Either, Schema } from "effect"
import type { CloudEventJson } from "../schema/CloudEvent.js"
import { ErrorBody, IngestResponse } from "../schema/Ingest.js"
import { request } from "./Http.js"
import { SIGNATURE_HEADER, signBody } from "./Signing.js"

const gzip = promisify(zlib.gzip)

export type Attempt =
  | { readonly _tag: "Delivered"; readonly response: IngestResponse | undefined }
  | { readonly _tag: "RetryAfter"; readonly status: number; readonly seconds: number }
  | { readonly _tag: "Transient"; readonly cause: string }
  | { readonly _tag: "Refused"; readonly status: number; readonly detail: string }

export interface Wire {
  readonly receiverUrl: string
  readonly ingestKey: string
  readonly signingSecret: string | undefined
  readonly gzip: boolean
  readonly waitForCommit: boolean
  readonly timeout: Duration.DurationInput
}

export interface Encoded {
  readonly body: Uint8Array
  readonly gzipped: boolean
}

export const encodeBatch = (wire: Wire, events: ReadonlyArray<CloudEventJson>): Effect.Effect<Encoded> =>
  Effect.promise(async () => {
    const json = Buffer.from(JSON.stringify(events), "utf8")
    return wire.gzip ? { body: await gzip(json, { level: zlib.constants.Z_BEST_SPEED }), gzipped: true } : { body: json, gzipped: false }
  })

/** `Retry-After` as seconds (delta-seconds or an HTTP date); `fallback` when absent or unreadable. */
export const retryAfterSeconds = (header: string | undefined, nowMs: number, fallback = 1): number => {
  if (header === undefined) return fallback
  if (/^\d+$/.test(header.trim())) return Number(header.trim())
  const at = Date.parse(header)
  return Number.isNaN(at) ? fallback : Math.max(0, Math.ceil((at - nowMs) / 1000))
}

const decodeResponse = Schema.decodeUnknown(Schema.parseJson(IngestResponse))
const decodeError = Schema.decodeUnknown(Schema.parseJson(ErrorBody))

/** Sends once; signs with the current time so a re-send is a new signed request. */
export const sendOnce = (wire: Wire, encoded: Encoded): Effect.Effect<Attempt> =>
  Effect.gen(function*() {
    const nowMs = yield* Clock.currentTimeMillis
    const headers: Record<string, string> = {
      authorization: `Bearer ${wire.ingestKey}`,
      "content-type": "application/cloudevents-batch+json",
      ...(encoded.gzipped ? { "content-encoding": "gzip" } : {}),
      ...(wire.waitForCommit ? { prefer: "wait=commit" } : {}),
      ...(wire.signingSecret === undefined ? {} : { [SIGNATURE_HEADER]: signBody(wire.signingSecret, encoded.body, nowMs / 1000) })
    }
    const answer = yield* request({
      method: "POST",
      url: new URL("/v1/ingest", wire.receiverUrl).toString(),
      headers,
      body: encoded.body,
      timeout: wire.timeout
    }).pipe(Effect.either)
    if (Either.isLeft(answer)) return { _tag: "Transient", cause: answer.left.code } as const
    const { status, body } = answer.right
    if (status === 200 || status === 202) {
      const response = yield* decodeResponse(body).pipe(Effect.option)
      return { _tag: "Delivered", response: response._tag === "Some" ? response.value : undefined } as const
    }
    if (status === 429 || status === 503) {
      const header = answer.right.headers["retry-after"]
      return { _tag: "RetryAfter", status, seconds: retryAfterSeconds(typeof header === "string" ? header : undefined, nowMs) } as const
    }
    if (status >= 500 || status === 408) return { _tag: "Transient", cause: `HTTP ${status}` } as const
    if (status === 400) {
      const response = yield* decodeResponse(body).pipe(Effect.option)
      if (response._tag === "Some") return { _tag: "Delivered", response: response.value } as const
    }
    const error = yield* decodeError(body).pipe(Effect.option)
    if (status === 401 && error._tag === "Some" && error.value.error === "replayed_request") {
      return { _tag: "Delivered", response: undefined } as const
    }
    return {
      _tag: "Refused",
      status,
      detail: error._tag === "Some" ? `${error.value.error}: ${error.value.message}` : body.slice(0, 200)
    } as const
  })
