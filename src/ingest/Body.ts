/**
 * Reads a request body with hard limits: the declared and the actual size are checked while
 * streaming (nothing larger than the limit is buffered), and gzip output is capped too.
 */
import { Effect } from "effect"
import type { IncomingMessage } from "node:http"
import * as zlib from "node:zlib"
import type { RequestProblem } from "./Decode.js"

const tooLarge = (what: string, limit: number, variable: string): RequestProblem => ({
  status: 413,
  error: "payload_too_large",
  message: `${what} exceeds the limit of ${limit} bytes (${variable})`,
  field: "body"
})

const busy: RequestProblem = {
  status: 503,
  error: "too_many_bodies",
  message: "too many request bodies are being received at once (INGEST_MAX_BODY_BYTES_IN_FLIGHT, or its per-gateway share); retry shortly",
  field: "body"
}

/**
 * `take(bytes)` reserves memory for the body (BodyBudget.ts): the declared length before
 * reading, or each chunk as it arrives when none is declared. The caller gives back what was
 * taken; a refusal ends the read with 503.
 */
export const readBody = (
  message: IncomingMessage,
  limit: number,
  take: (bytes: number) => boolean = () => true
): Effect.Effect<Uint8Array, RequestProblem> =>
  Effect.async<Uint8Array, RequestProblem>((resume) => {
    const declared = Number(message.headers["content-length"])
    const known = message.headers["content-length"] !== undefined && Number.isFinite(declared)
    if (known && declared > limit) {
      message.resume()
      resume(Effect.fail(tooLarge("the body", limit, "INGEST_MAX_BODY_BYTES")))
      return
    }
    if (known && !take(declared)) {
      message.resume()
      resume(Effect.fail(busy))
      return
    }
    const chunks: Array<Buffer> = []
    let size = 0
    let done = false
    const finish = (effect: Effect.Effect<Uint8Array, RequestProblem>) => {
      if (done) return
      done = true
      message.off("data", onData)
      resume(effect)
    }
    const onData = (chunk: Buffer) => {
      size += chunk.byteLength
      if (size > limit) {
        message.resume()
        finish(Effect.fail(tooLarge("the body", limit, "INGEST_MAX_BODY_BYTES")))
      } else if (!known && !take(chunk.byteLength)) {
        message.resume()
        finish(Effect.fail(busy))
      } else chunks.push(chunk)
    }
    message.on("data", onData)
    message.once("end", () => finish(Effect.succeed(Buffer.concat(chunks, size))))
    message.once("error", (error) =>
      finish(Effect.fail({ status: 400, error: "body_unreadable", message: `could not read the body: ${error.message}` }))
    )
    // Interrupted while reading: stop taking chunks (and reserving memory for them), drain the rest.
    return Effect.sync(() => {
      done = true
      message.off("data", onData)
      message.resume()
    })
  })

export const decodeContentEncoding = (
  encoding: string | undefined,
  body: Uint8Array,
  limit: number
): Effect.Effect<Uint8Array, RequestProblem> => {
  const name = (encoding ?? "identity").trim().toLowerCase()
  if (name === "identity" || name === "") return Effect.succeed(body)
  if (name !== "gzip" && name !== "x-gzip") {
    return Effect.fail({
      status: 415,
      error: "unsupported_content_encoding",
      message: `unsupported Content-Encoding "${name}"; use gzip or none`,
      field: "content-encoding"
    })
  }
  return Effect.async<Uint8Array, RequestProblem>((resume) => {
    zlib.gunzip(body, { maxOutputLength: limit }, (error, output) => {
      if (!error) return resume(Effect.succeed(output))
      resume(Effect.fail(
        (error as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE"
          ? tooLarge("the decompressed body", limit, "INGEST_MAX_DECOMPRESSED_BYTES")
          : { status: 400, error: "invalid_gzip", message: "the body is not valid gzip", field: "body" }
      ))
    })
  })
}
