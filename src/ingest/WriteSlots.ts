/**
 * The write slots the routes' writers share (`INGEST_MAX_CONCURRENT_FLUSHES`), handed out in
 * the order they were asked for. A freed slot goes straight to the writer that has waited
 * longest, so a busy route cannot take it back before a quiet one gets its turn.
 *
 * Effect's `Semaphore` is not that: a release wakes waiters on a later task, and a fiber asking
 * meanwhile takes the permit first; a waiter that finds it gone queues again at the back. With
 * six writers on two permits, two writers that always had work held both for seconds while the
 * other four waited (measured: 0 writes in 3 s for four of six). Here the slots are tokens in an
 * Effect `Queue`, whose waiting takers are served first-come, first-served.
 *
 * A statement that has run far longer than any flush (a lock someone holds, a hung connection)
 * lends its slot (`lend`): one more token goes round until it ends, and its release then takes
 * that token back. Without it, two routes waiting on locked tables held both slots, and every
 * other type of every gateway waited with them (an outside probe: 30 s).
 */
import { type Duration, Effect, Fiber, Queue } from "effect"

export interface WriteSlots {
  /** Waits in line for a slot. */
  readonly acquire: Effect.Effect<void>
  /** Gives a slot back: to the longest waiter, if any (or takes back a lent one). */
  readonly release: Effect.Effect<void>
  /** One more slot for now, for a slot held by a statement that is waiting; a later release retires it. */
  readonly lend: Effect.Effect<void>
}

export const makeWriteSlots = (count: number): Effect.Effect<WriteSlots> =>
  Effect.gen(function*() {
    const tokens = yield* Queue.unbounded<true>()
    yield* Queue.offerAll(tokens, Array.from({ length: count }, () => true as const))
    let lent = 0
    return {
      acquire: Effect.asVoid(Queue.take(tokens)),
      release: Effect.suspend(() => {
        if (lent > 0) {
          lent -= 1
          return Effect.void
        }
        return Effect.asVoid(Queue.offer(tokens, true))
      }),
      lend: Effect.suspend(() => {
        lent += 1
        return Effect.asVoid(Queue.offer(tokens, true))
      })
    }
  })

/**
 * One writer's hold on a slot: taken before it forms a batch, given back when the flush ends
 * (and while it sleeps before a retry, so a route backing off holds no slot).
 */
export const slotHolder = (slots: WriteSlots) => {
  let held = false
  return {
    /** Lends the held slot to the others while `self` runs past `after` (see `WriteSlots.lend`). */
    lendDuring: <A, E, R>(self: Effect.Effect<A, E, R>, after: Duration.Duration): Effect.Effect<A, E, R> =>
      Effect.flatMap(Effect.fork(Effect.zipRight(Effect.sleep(after), slots.lend)), (lender) =>
        Effect.ensuring(self, Fiber.interrupt(lender))),
    /** Takes a slot unless one is held already. */
    take: Effect.uninterruptibleMask((restore) =>
      held ? Effect.void : Effect.tap(restore(slots.acquire), () => {
        held = true
      })
    ),
    /** Gives the slot back if one is held (uninterruptibly: a slot is never dropped on the way). */
    give: Effect.uninterruptible(Effect.suspend(() => {
      if (!held) return Effect.void
      held = false
      return slots.release
    }))
  }
}
