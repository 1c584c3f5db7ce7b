/**
 * A real full disk: a 1 MiB tmpfs mounted for the test. Needs `mount` permission (root in a
 * container that allows it); where mounting is not permitted the test is skipped, and the same
 * paths are still covered by the injected-ENOSPC tests in `Faults.test.ts`.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { RecordRef } from "../../src/journal/Service.js"
import { numberOf, openJournal, payload } from "./support.js"

const tryMountTmpfs = (): string | undefined => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "journal-tmpfs-"))
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", dir], { stdio: "ignore" })
    return dir
  } catch {
    fs.rmdirSync(dir)
    return undefined
  }
}

const unmount = (dir: string) =>
  Effect.sync(() => {
    execFileSync("umount", [dir], { stdio: "ignore" })
    fs.rmdirSync(dir)
  })

describe("Journal on a real full disk (1 MiB tmpfs)", () => {
  it.scopedLive("ENOSPC → JournalUnavailable, no crash, no corruption; appends resume when space returns", (ctx) => {
    const mounted = tryMountTmpfs()
    if (!mounted) ctx.skip()
    return Effect.gen(function* () {
      const root = mounted!
      yield* Effect.addFinalizer(() => unmount(root))
      const directory = path.join(root, "journal")
      const options = { directory, segmentBytes: 64 * 1024, maxBytes: 100 * 1024 * 1024 }
      const { journal, close } = yield* openJournal(options)

      const acked: Array<{ n: number; ref: RecordRef }> = []
      let n = 0
      let failure: unknown
      while (failure === undefined && n < 5000) {
        const result = yield* Effect.either(journal.append([payload(n)], { spilled: false }))
        if (result._tag === "Right") acked.push({ n, ref: result.right[0]! })
        else failure = result.left
        n++
      }
      expect(failure).toMatchObject({ _tag: "JournalUnavailable", code: "ENOSPC" })
      expect(acked.length).toBeGreaterThan(500)
      // Still full: refused again, the process carries on.
      const again = yield* Effect.either(journal.append([payload(n++)], { spilled: false }))
      expect(again._tag).toBe("Left")

      // The database caught up with the oldest half: their segments go and space returns.
      const half = Math.floor(acked.length / 2)
      yield* journal.commit(acked.slice(0, half).map((a) => a.ref))
      const resumed: Array<number> = []
      for (let i = 0; i < 20; i++) {
        yield* journal.append([payload(n)], { spilled: false })
        resumed.push(n++)
      }
      yield* close

      const reopened = yield* openJournal(options)
      expect(reopened.journal.recovery.corrupt).toEqual([])
      expect(reopened.journal.recovery.truncated).toEqual([])
      const replay = yield* reopened.journal.takeSpilled(10_000)
      const expected = new Set([...acked.map((a) => a.n), ...resumed])
      const replayed = replay.map((r) => numberOf(r.payload))
      // Every acknowledged, uncommitted record is there; committed ones may remain until their segment goes.
      for (const a of acked.slice(half)) expect(replayed).toContain(a.n)
      for (const r of resumed) expect(replayed).toContain(r)
      expect(replayed.every((x) => expected.has(x))).toBe(true)
      yield* reopened.close
    })
  })
})
