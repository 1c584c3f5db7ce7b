/**
 * The live stream feature, in two parts because they live at two levels of the root:
 *
 * - `RealtimeLive` (root): the hub, `CommittedEvents` (local publish + NOTIFY) and, in api
 *   processes, the LISTEN side. The ingest pipeline needs `CommittedEvents`, so this sits below it.
 * - `RealtimeHttpFeature` (in `ApiLive`): handlers, stream registry, tickets, topic permissions.
 *   Inside the HTTP app on purpose: open streams are ended before the server closes.
 */
import { Layer } from "effect"
import { AuthLive } from "../auth/AuthenticationLive.js"
import { GatewayOwnership } from "./Access.js"
import { BridgeLive } from "./Bridge.js"
import { RealtimeHttpLive } from "./Http.js"
import { RealtimeHub } from "./Hub.js"
import { StreamRegistry } from "./Streams.js"
import { StreamTickets } from "./Tickets.js"

export const RealtimeLive = BridgeLive.pipe(Layer.provideMerge(RealtimeHub.Live))

export const RealtimeHttpFeature = RealtimeHttpLive.pipe(
  Layer.provide(Layer.mergeAll(StreamRegistry.Live, StreamTickets.Live, GatewayOwnership.Live, AuthLive))
)
