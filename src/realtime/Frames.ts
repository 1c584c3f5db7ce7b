/**
 * Server-Sent Events framing (WHATWG HTML §9.2). Data is always one line of JSON:
 * `JSON.stringify` escapes CR and LF, the only line breaks SSE knows.
 */

const oneLine = (s: string): string => s.replace(/[\r\n]/g, "")

/** `id:` / `event:` / `data:` message; `id` omitted when undefined (the client keeps its last one). */
export const messageFrame = (id: string | undefined, event: string, json: string): string =>
  `${id === undefined ? "" : `id: ${id}\n`}event: ${oneLine(event)}\ndata: ${json}\n\n`

/** A comment line: ignored by clients, keeps proxies and load balancers from timing the stream out. */
export const commentFrame = (text: string): string => `: ${oneLine(text)}\n\n`

export const retryFrame = (millis: number): string => `retry: ${Math.floor(millis)}\n\n`
