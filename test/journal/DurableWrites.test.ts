/**
 * With `fsync: "always"` the active segment is opened with O_DSYNC, so the group's one write
 * is also its sync; with `interval` and `never` it is not (their writes must stay cheap).
 * Read from the kernel (`/proc/self/fdinfo`), not from our own bookkeeping.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { constants } from "node:fs"
import * as fsp from "node:fs/promises"
import * as path from "node:path"
import type { FsyncPolicy } from "../../src/journal/Service.js"
import { openJournal, payload, tempDir } from "./support.js"

/** The open flags of this process's descriptor for `file`, as the kernel reports them. */
const openFlags = (file: string) =>
  Effect.promise(async () => {
    for (const fd of await fsp.readdir("/proc/self/fd")) {
      const target = await fsp.readlink(`/proc/self/fd/${fd}`).catch(() => "")
      if (target !== file) continue
      const info = await fsp.readFile(`/proc/self/fdinfo/${fd}`, "utf8")
      return parseInt(/^flags:\s+([0-7]+)$/m.exec(info)![1]!, 8)
    }
    throw new Error(`${file} is not open`)
  })

const segmentFlags = (fsync: FsyncPolicy) =>
  Effect.gen(function* () {
    const dir = yield* tempDir
    const { journal, faults, close } = yield* openJournal({ directory: dir, fsync })
    yield* journal.append([payload(1)], { spilled: false })
    yield* journal.append([payload(2)], { spilled: false })
    const flags = yield* openFlags(path.join(yield* Effect.promise(() => fsp.realpath(dir)), "0000000000000001.open"))
    yield* close
    return { flags, faults }
  })

describe.runIf(process.platform === "linux")("Journal durable writes", () => {
  it.scopedLive("fsync always: the segment is O_DSYNC and each group write counts as its sync", () =>
    Effect.gen(function* () {
      const { flags, faults } = yield* segmentFlags("always")
      expect(flags & constants.O_DSYNC).toBe(constants.O_DSYNC)
      expect(faults.writes).toBe(2)
      // Each write was the sync; the close adds one fdatasync of its own.
      expect(faults.datasyncs).toBe(3)
    }))

  it.scopedLive("fsync interval and never: plain writes", () =>
    Effect.gen(function* () {
      for (const policy of ["interval", "never"] as const) {
        const { flags } = yield* segmentFlags(policy)
        expect(flags & constants.O_DSYNC).toBe(0)
      }
    }))
})
