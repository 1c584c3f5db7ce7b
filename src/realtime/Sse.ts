/**
 * The HTTP side of one stream: a Node `Readable` piped into the response (served as a raw body),
 * fed synchronously by the hub, the heartbeat timer and the end conditions.
 *
 * The send buffer is what sits in that Readable because the socket is not draining: when live
 * data finds more than `sendBufferBytes` there, the hub drops the stream. Replayed history is
 * exempt from that check (so a resume is not mistaken for a slow client) but is bounded by the
 * same number: the hub sends a `replay_too_large` reset instead of a longer replay.
 */
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Readable } from "node:stream"
import type { StreamEnd } from "../../schema/api/Realtime.js"
import { commentFrame, messageFrame, retryFrame } from "./Frames.js"
import type { Outgoing, Sink } from "./Hub.js"

export type EndReason = typeof StreamEnd.Type["reason"]

const END_MESSAGES: Readonly<Record<EndReason, string>> = {
  token_expired: "the token has expired; reconnect with a fresh token or ticket",
  server_shutdown: "the server is shutting down; reconnect"
}

export interface SseStream {
  readonly sink: Sink
  readonly heartbeat: () => void
  /** Sends `event: end` and finishes the response. */
  readonly end: (reason: EndReason) => void
  /** Bytes written so far and bytes still buffered (for tests). */
  readonly stats: () => { readonly pushed: number; readonly buffered: number }
  readonly body: Readable
}

export interface SseOptions {
  readonly retryMs: number
  readonly sendBufferBytes: number
  /** Close the connection at once (the hub dropped the stream as too slow). */
  readonly drop: () => void
}

/** Streams with the same topics are handed the same `Outgoing`: encode it once. */
const encoded = new WeakMap<Outgoing, Buffer>()

const bytesOf = (out: Outgoing): Buffer => {
  let bytes = encoded.get(out)
  if (bytes === undefined) {
    bytes = Buffer.from(out.text, "utf8")
    encoded.set(out, bytes)
  }
  return bytes
}

export const openSseStream = (options: SseOptions): SseStream => {
  const body = new Readable({ read() {} })
  let pushed = 0
  let replayEnd = 0
  let ended = false
  const push = (text: string): void => pushBytes(Buffer.from(text, "utf8"))
  const pushBytes = (bytes: Buffer): void => {
    pushed += bytes.length
    body.push(bytes)
  }
  push(retryFrame(options.retryMs))
  replayEnd = pushed

  const sink: Sink = {
    replayLimitBytes: options.sendBufferBytes,
    write: (out, replay) => {
      if (ended) return true
      if (replay) {
        push(out.text)
        replayEnd = pushed
        return true
      }
      const liveBuffered = Math.min(body.readableLength, pushed - replayEnd)
      if (liveBuffered > options.sendBufferBytes) return false
      pushBytes(bytesOf(out))
      return true
    },
    drop: () => {
      ended = true
      options.drop()
    }
  }

  return {
    sink,
    heartbeat: () => {
      if (!ended) push(commentFrame("heartbeat"))
    },
    end: (reason) => {
      if (ended) return
      ended = true
      push(messageFrame(undefined, "end", JSON.stringify({ reason, message: END_MESSAGES[reason] })))
      body.push(null)
    },
    stats: () => ({ pushed, buffered: body.readableLength }),
    body
  }
}

export const sseResponse = (stream: SseStream) =>
  HttpServerResponse.raw(stream.body, {
    contentType: "text/event-stream; charset=utf-8",
    headers: {
      "cache-control": "no-cache",
      "x-accel-buffering": "no",
      connection: "keep-alive"
    }
  })
