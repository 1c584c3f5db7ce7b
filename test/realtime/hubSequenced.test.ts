/**
 * The hub keyed by a shared log's positions (what the NATS bus does), in memory: ids carry the
 * log's sequence and tag; a cursor the ring holds replays from memory; one it does not hold is
 * read from the log (`backfill`), then the ring continues where the log's answer stops; a cursor
 * ahead of this hub skips live events up to it; the log's resets pass through.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import type { SequencedEvent } from "../../src/realtime/History.js"
import { type BackfillResult, RealtimeHub, type Sink } from "../../src/realtime/Hub.js"
import { topicSet } from "../../src/realtime/Topics.js"
import { payment } from "./events.js"
import { type SseMessage, SseParser } from "./sse.js"

const TAG = "0a1b2c3d"

const at = (seq: number, id: string, gateway = "gw_1"): SequencedEvent => ({
  seq,
  commitMs: 1_000 + seq,
  event: payment(gateway, "a1", id)
})

const client = () => {
  const parser = new SseParser()
  const messages: Array<SseMessage> = []
  const sink: Sink = { write: (out) => (messages.push(...parser.push(out.text)), true), drop: () => undefined }
  return { messages, sink }
}

const settle = Effect.repeatN(Effect.yieldNow(), 50)
const idsOf = (messages: ReadonlyArray<SseMessage>) =>
  messages.map((m) => (m.event === "reset" ? `reset:${JSON.parse(m.data)["reason"]}` : JSON.parse(m.data)["id"]))

/** A hub whose log holds `log`; records what it was asked. */
const hubOver = (log: ReadonlyArray<SequencedEvent>, answer?: (afterSeq: number) => BackfillResult) =>
  Effect.gen(function*() {
    const asked: Array<number> = []
    const hub = yield* RealtimeHub.make({
      historySize: 3,
      historyWindow: "5 minutes",
      instanceId: TAG,
      backfill: (afterSeq) =>
        Effect.sync(() => {
          asked.push(afterSeq)
          if (answer !== undefined) return answer(afterSeq)
          const last = log.at(-1)?.seq ?? 0
          return { _tag: "Events", events: log.filter((e) => e.seq > afterSeq), lastSeq: Math.max(last, afterSeq) }
        })
    })
    return { hub, asked }
  })

describe("hub over a shared log", () => {
  it.scoped("ids are `<commit ms>-<log seq>-<tag>`; a cursor the ring holds replays from memory", () =>
    Effect.gen(function*() {
      const { asked, hub } = yield* hubOver([])
      const live = client()
      yield* hub.connect(topicSet(["vendor:gw_1"]), undefined, live.sink)
      yield* hub.publishSequenced([at(10, "p10"), at(11, "p11"), at(12, "p12")])
      yield* settle
      expect(live.messages.map((m) => m.id)).toEqual([`1010-10-${TAG}`, `1011-11-${TAG}`, `1012-12-${TAG}`])
      // Already held: not appended twice.
      yield* hub.publishSequenced([at(12, "p12")])
      const resumed = client()
      yield* hub.connect(topicSet(["vendor:gw_1"]), `1010-10-${TAG}`, resumed.sink)
      expect(idsOf(resumed.messages)).toEqual(["p11", "p12"])
      expect(asked).toEqual([])
    }))

  it.scoped("a cursor older than the ring is read from the log, then the ring from where the log stopped", () =>
    Effect.gen(function*() {
      const log = [1, 2, 3, 4, 5, 6].map((seq) => at(seq, `p${seq}`, seq === 3 ? "gw_2" : "gw_1"))
      const { asked, hub } = yield* hubOver(log.slice(0, 5))
      yield* hub.publishSequenced(log) // the ring (3) keeps 4, 5, 6
      const resumed = client()
      yield* hub.connect(topicSet(["vendor:gw_1"]), `1001-1-${TAG}`, resumed.sink)
      expect(asked).toEqual([1])
      // From the log 2, (3 is another gateway's), 4, 5; from the ring 6.
      expect(idsOf(resumed.messages)).toEqual(["p2", "p4", "p5", "p6"])
      yield* hub.publishSequenced([at(7, "p7")])
      yield* settle
      expect(idsOf(resumed.messages)).toEqual(["p2", "p4", "p5", "p6", "p7"])
    }))

  it.scoped("a cursor ahead of this hub: live events up to it are skipped", () =>
    Effect.gen(function*() {
      const { hub } = yield* hubOver([at(1, "p1"), at(2, "p2"), at(3, "p3")])
      const ahead = client()
      yield* hub.connect(topicSet(["vendor:gw_1"]), `1003-3-${TAG}`, ahead.sink)
      yield* hub.publishSequenced([at(1, "p1"), at(2, "p2"), at(3, "p3"), at(4, "p4")])
      yield* settle
      expect(idsOf(ahead.messages)).toEqual(["p4"])
    }))

  it.scoped("the log's verdicts (too old, unknown, too large) become resets; other instances' cursors never reach the log", () =>
    Effect.gen(function*() {
      for (const reason of ["cursor_too_old", "cursor_unknown", "replay_too_large"] as const) {
        const { hub } = yield* hubOver([], () => ({ _tag: "Reset", reason }))
        const c = client()
        yield* hub.connect(topicSet(["vendor:gw_1"]), `1001-1-${TAG}`, c.sink)
        expect(idsOf(c.messages)).toEqual([`reset:${reason}`])
      }
      const { asked, hub } = yield* hubOver([])
      const other = client()
      yield* hub.connect(topicSet(["vendor:gw_1"]), "1001-1-ffffffff", other.sink)
      expect(asked).toEqual([])
    }))
})
