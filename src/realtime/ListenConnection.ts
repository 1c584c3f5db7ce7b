/**
 * The LISTEN side's own connection: opened outside the pool (LISTEN belongs to a session), read
 * as a stream of notification payloads, and probed so that a connection that hangs without an
 * error ends the session like one that drops (Bridge.ts reconnects and marks the gap).
 */
import { Chunk, Deferred, Duration, Effect, Exit, Queue } from "effect"
import pg from "pg"
import { CHANNEL } from "./Notification.js"

export const asError = (cause: unknown): Error => (cause instanceof Error ? cause : new Error(String(cause)))

/** A dedicated connection (not from the pool: LISTEN belongs to a session), listening on the channel. */
export const connectListener = async (options: pg.ClientConfig): Promise<pg.Client> => {
  const client = new pg.Client({ ...options, application_name: "machpay-telemetry-listen" })
  client.on("error", () => undefined)
  try {
    await client.connect()
    await client.query(`LISTEN ${CHANNEL}`)
    return client
  } catch (error) {
    await client.end().catch(() => undefined)
    throw error
  }
}

/**
 * A round trip on the listening connection every `interval`, which must answer within it: a
 * connection that hangs without an error (a network black hole) delivers no notification and no
 * error either, so without this the hub would wait for events that never come.
 */
const probeEvery = (client: pg.Client, interval: Duration.Duration) =>
  Effect.sleep(interval).pipe(
    Effect.zipRight(
      Effect.tryPromise({
        try: () => client.query("SELECT 1"),
        catch: asError
      }).pipe(
        Effect.timeoutFail({
          duration: interval,
          onTimeout: () => new Error(`the LISTEN connection did not answer a probe within ${Duration.format(interval)}`)
        })
      )
    ),
    Effect.forever
  )

/** Notifications in arrival order; fails when the connection is lost (or stops answering probes). */
export const listenOn = (
  client: pg.Client,
  probeInterval: Duration.Duration,
  handle: (payloads: ReadonlyArray<string>) => Effect.Effect<void>
) =>
  Effect.gen(function*() {
    const inbox = yield* Queue.unbounded<string>()
    const lost = yield* Deferred.make<never, Error>()
    client.on("notification", (message) => {
      if (message.channel === CHANNEL && message.payload !== undefined) inbox.unsafeOffer(message.payload)
    })
    client.on("error", (error) => Deferred.unsafeDone(lost, Exit.fail(error)))
    client.on("end", () => Deferred.unsafeDone(lost, Exit.fail(new Error("LISTEN connection closed"))))
    // Whatever is waiting is handled together (a batch's keys arrive as several notifications).
    // raceFirst: the first to end (a failure included) ends the session.
    return yield* Effect.raceFirst(
      Effect.raceFirst(Deferred.await(lost), probeEvery(client, probeInterval)),
      Effect.forever(Effect.flatMap(Queue.takeBetween(inbox, 1, 1024), (chunk) => handle(Chunk.toReadonlyArray(chunk))))
    )
  })
