/**
 * Live stream settings, read inside the realtime layers (documented in docs/realtime.md).
 */
import { Config, Duration } from "effect"
import { checked, positiveDuration as duration, positiveInt } from "../config/AppConfig.js"

export interface RealtimeSettings {
  readonly heartbeat: Duration.Duration
  /** The `retry:` hint: how long a browser waits before reconnecting. */
  readonly retryMs: number
  readonly maxStreamsPerUser: number
  /** Anonymous (ticker-only) streams per process, all together. */
  readonly maxPublicStreams: number
  readonly maxTopics: number
  /** Bytes buffered for one stream (its socket not draining) before it counts as a slow consumer and is closed. */
  readonly sendBufferBytes: number
  readonly historySize: number
  readonly historyWindow: Duration.Duration
  /** How often the LISTEN connection (other processes' events) is probed; it must answer within the same time. */
  readonly listenProbe: Duration.Duration
  /** How often a receiver reads whether another process listens (Presence.ts). */
  readonly presenceCheck: Duration.Duration
  readonly ticketTtl: Duration.Duration
  readonly cookieName: string
  /** How long a vendor's list of gateways is trusted before it is read again. */
  readonly ownershipTtl: Duration.Duration
}

export const RealtimeSettingsConfig: Config.Config<RealtimeSettings> = Config.all({
  heartbeat: duration("SSE_HEARTBEAT", "15 seconds"),
  retryMs: positiveInt("SSE_RETRY_MS", 3000),
  maxStreamsPerUser: positiveInt("SSE_MAX_STREAMS_PER_USER", 5),
  maxPublicStreams: positiveInt("SSE_MAX_PUBLIC_STREAMS", 10_000),
  maxTopics: positiveInt("SSE_MAX_TOPICS", 20),
  sendBufferBytes: positiveInt("SSE_SEND_BUFFER_BYTES", 1024 * 1024),
  historySize: positiveInt("SSE_HISTORY_SIZE", 20_000),
  historyWindow: duration("SSE_HISTORY_WINDOW", "5 minutes"),
  listenProbe: duration("SSE_LISTEN_PROBE_INTERVAL", "10 seconds"),
  presenceCheck: duration("SSE_PRESENCE_CHECK_INTERVAL", "250 millis"),
  ticketTtl: duration("SSE_TICKET_TTL", "30 seconds"),
  cookieName: checked(
    "SSE_AUTH_COOKIE",
    Config.string("SSE_AUTH_COOKIE").pipe(Config.withDefault("machpay_token")),
    "must be a cookie name (letters, digits, _ and -)",
    (s) => /^[A-Za-z0-9_-]+$/.test(s)
  ),
  ownershipTtl: duration("SSE_OWNERSHIP_CACHE_TTL", "30 seconds")
})
