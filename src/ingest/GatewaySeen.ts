/**
 * Last-seen time (and software version) per gateway, coalesced in memory and written once a
 * second outside the flush transactions — one small statement instead of a row lock per flush.
 */
import { type Duration, Effect, Schedule } from "effect"
import { abandonAfter, type EventStore, type GatewaySeen } from "./EventStore.js"
import type { IngestEvent } from "./IngestEvent.js"

/** `writeTimeout`: a last-seen write on a hung connection is abandoned (and its values kept for the next). */
export const startGatewaySeen = (store: EventStore["Type"], writeTimeout: Duration.Duration) =>
  Effect.gen(function*() {
    let seen = new Map<string, GatewaySeen>()
    const track = (event: IngestEvent) => {
      const version = event.known?.type === "GatewayTelemetryPacket" ? event.known.data.gateway_version : undefined
      const previous = seen.get(event.gatewayId)
      seen.set(event.gatewayId, {
        lastSeenAt: Math.max(previous?.lastSeenAt ?? 0, event.receivedAt),
        version: version ?? previous?.version
      })
    }
    const flush = Effect.suspend(() => {
      if (seen.size === 0) return Effect.void
      const batch = seen
      seen = new Map()
      return store.touchGateways(batch).pipe(
        abandonAfter(writeTimeout),
        Effect.catchAll((error) =>
          Effect.sync(() => {
            for (const [id, value] of batch) if (!seen.has(id)) seen.set(id, value)
          }).pipe(Effect.zipRight(Effect.logWarning("last-seen update failed").pipe(Effect.annotateLogs({ error: error.message }))))
        )
      )
    })
    yield* flush.pipe(Effect.repeat(Schedule.spaced("1 second")), Effect.forkScoped)
    return { track, flush }
  })
