/**
 * The start-up check: `GET /health/ready` on the receiver. Its answer is one of three things a
 * gateway operator needs told apart — ready, reachable but not ready (database down, still
 * migrating), or not reachable at all (wrong URL, receiver down, network).
 */
import { Data, Effect } from "effect"
import { request } from "./Http.js"

export type Readiness =
  | { readonly _tag: "Ready" }
  | { readonly _tag: "NotReady"; readonly status: number; readonly detail: string }
  | { readonly _tag: "Unreachable"; readonly code: string }

export class ReceiverNotReady extends Data.TaggedError("ReceiverNotReady")<{
  readonly receiverUrl: string
  readonly readiness: Exclude<Readiness, { _tag: "Ready" }>
}> {
  override get message(): string {
    return describeReadiness(this.receiverUrl, this.readiness)
  }
}

export const describeReadiness = (receiverUrl: string, readiness: Readiness): string =>
  readiness._tag === "Ready"
    ? `receiver ${receiverUrl} is ready`
    : readiness._tag === "Unreachable"
    ? `receiver ${receiverUrl} is not reachable (${readiness.code}): check the receiver URL and that the receiver is running`
    : `receiver ${receiverUrl} is reachable but not ready (HTTP ${readiness.status}${readiness.detail ? `: ${readiness.detail}` : ""})`

export const checkReady = (receiverUrl: string): Effect.Effect<Readiness> =>
  request({ method: "GET", url: new URL("/health/ready", receiverUrl).toString(), timeout: "5 seconds" }).pipe(
    Effect.map((answer): Readiness =>
      answer.status === 200 ? { _tag: "Ready" } : { _tag: "NotReady", status: answer.status, detail: answer.body.slice(0, 300) }
    ),
    Effect.catchTag("HttpUnreachable", (e) => Effect.succeed<Readiness>({ _tag: "Unreachable", code: e.code }))
  )
