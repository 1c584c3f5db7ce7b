/**
 * Server-Sent Events framing (WHATWG HTML §9.2). Data is always one line of JSON:
 * `JSON.stringify` escapes CR and LF, the only line breaks SSE knows.
 */
import type { ResetReason } from "../../schema/api/Realtime.js"

const oneLine = (s: string): string => s.replace(/[\r\n]/g, "")

/** `id:` / `event:` / `data:` message; `id` omitted when undefined (the client keeps its last one). */
export const messageFrame = (id: string | undefined, event: string, json: string): string =>
  `${id === undefined ? "" : `id: ${id}\n`}event: ${oneLine(event)}\ndata: ${json}\n\n`

/** A comment line: ignored by clients, keeps proxies and load balancers from timing the stream out. */
export const commentFrame = (text: string): string => `: ${oneLine(text)}\n\n`

export const retryFrame = (millis: number): string => `retry: ${Math.floor(millis)}\n\n`

const RESET_MESSAGES: Readonly<Record<typeof ResetReason.Type, string>> = {
  cursor_too_old: "Last-Event-ID is older than the history window; events were missed — reload through the REST API",
  cursor_unknown: "Last-Event-ID was not issued by this service; reload through the REST API",
  stream_interrupted: "the live feed was interrupted and events may have been missed — reload through the REST API",
  replay_too_large: "the events since Last-Event-ID exceed this stream's send buffer — reload through the REST API"
}

export const RESET_REASONS = Object.keys(RESET_MESSAGES) as ReadonlyArray<typeof ResetReason.Type>

/** `event: reset`: the stream missed events; its `data` says why and what the client should do. */
export const resetFrame = (id: string | undefined, reason: typeof ResetReason.Type): string =>
  messageFrame(id, "reset", JSON.stringify({ reason, message: RESET_MESSAGES[reason] }))
