import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect } from "effect"
import * as path from "node:path"
import { Journal, JournalFromConfig, JournalInMemory } from "../../src/journal/Journal.js"
import { JournalSettingsConfig } from "../../src/journal/JournalConfig.js"
import { listDir, numberOf, payload, tempDir } from "./support.js"

describe("JournalInMemory", () => {
  it.effect("replays recovered records first, then spilled ones; commit frees capacity", () =>
    Effect.gen(function* () {
      const journal = yield* Journal
      expect(journal.recovery.records).toBe(2)
      const kept = yield* journal.append([payload(10)], { spilled: false })
      yield* journal.append([payload(11)], { spilled: true })
      const full = yield* journal.append([payload(12), payload(13)], { spilled: true }).pipe(Effect.flip)
      expect(full._tag).toBe("JournalFull")
      const replay = yield* journal.takeSpilled(10)
      expect(replay.map((r) => numberOf(r.payload))).toEqual([1, 2, 11])
      yield* journal.commit([...replay.map((r) => r.ref), ...kept])
      expect(yield* journal.stats).toMatchObject({ bytes: 0, spilledPending: 0, appended: 2, replayed: 3 })
      yield* journal.append([payload(12), payload(13)], { spilled: true })
    }).pipe(Effect.provide(JournalInMemory({ maxBytes: 4 * 1012, recovered: [payload(1), payload(2)] }))))

  it.effect("fails with JournalUnavailable while the injected failure is on", () => {
    let failure: string | undefined = "ENOSPC"
    return Effect.gen(function* () {
      const journal = yield* Journal
      expect(yield* journal.append([payload(1)], { spilled: false }).pipe(Effect.flip)).toMatchObject({
        _tag: "JournalUnavailable",
        code: "ENOSPC"
      })
      failure = undefined
      expect(yield* journal.append([payload(1)], { spilled: false })).toHaveLength(1)
    }).pipe(Effect.provide(JournalInMemory({ failure: () => failure })))
  })
})

describe("JournalConfig", () => {
  it.effect("defaults: <DATA_DIR>/journal, 1 GiB, 64 MiB segments, fsync always every 100 ms", () =>
    Effect.gen(function* () {
      const settings = yield* JournalSettingsConfig
      expect(settings).toMatchObject({
        directory: path.resolve("/srv/data/journal"),
        maxBytes: 1024 ** 3,
        segmentBytes: 64 * 1024 ** 2,
        fsync: "always"
      })
    }).pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["DATA_DIR", "/srv/data"]])))))

  it.effect("reads every JOURNAL_ variable and rejects an unknown fsync policy", () =>
    Effect.gen(function* () {
      const env = new Map([
        ["JOURNAL_DIR", "/var/journal"],
        ["JOURNAL_MAX_BYTES", "1048576"],
        ["JOURNAL_SEGMENT_BYTES", "65536"],
        ["JOURNAL_FSYNC", "interval"],
        ["JOURNAL_FSYNC_INTERVAL", "250 millis"]
      ])
      const settings = yield* Effect.withConfigProvider(JournalSettingsConfig, ConfigProvider.fromMap(env))
      expect(settings).toMatchObject({ directory: "/var/journal", maxBytes: 1048576, segmentBytes: 65536, fsync: "interval" })
      const bad = yield* Effect.withConfigProvider(
        JournalSettingsConfig,
        ConfigProvider.fromMap(new Map([["JOURNAL_FSYNC", "sometimes"]]))
      ).pipe(Effect.flip)
      expect(String(bad)).toContain("JOURNAL_FSYNC")
    }))

  it.scopedLive("JournalFromConfig builds a working disk journal", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      yield* Effect.gen(function* () {
        const journal = yield* Journal
        expect(yield* journal.append([payload(1)], { spilled: true })).toEqual([{ segment: 1, offset: 0 }])
      }).pipe(
        Effect.provide(JournalFromConfig),
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["JOURNAL_DIR", dir]])))
      )
      expect(yield* listDir(dir)).toEqual(["0000000000000001.open"])
    }))
})
