/** Shared helpers for the journal tests: temp directories, a fault-injecting file layer, payloads. */
import { type Context, Effect, Exit, Scope } from "effect"
import * as fsp from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { FsError, JournalFs, JournalFsLive } from "../../src/journal/JournalFs.js"
import { type JournalOptions, makeJournal } from "../../src/journal/JournalLive.js"
import type { JournalService } from "../../src/journal/Service.js"

export const tempDir = Effect.acquireRelease(
  Effect.promise(() => fsp.mkdtemp(path.join(os.tmpdir(), "journal-test-"))),
  (dir) => Effect.promise(() => fsp.rm(dir, { recursive: true, force: true }))
)

/** Knobs a test turns to make the next file operations fail, and counters it reads. */
export interface Faults {
  /** Syncs: fdatasyncs, and writes to a file opened with durable writes (O_DSYNC, fsync `always`). */
  datasyncs: number
  writes: number
  /** The next writes fail with this errno code, after writing `partialBytes` of what was asked. */
  write: { code: string; partialBytes: number } | undefined
  datasync: string | undefined
  truncate: string | undefined
  open: string | undefined
  /** Runs before every sync (a test can hold a write in flight with it). */
  beforeDatasync: Effect.Effect<void>
}

export const makeFaults = (): Faults => ({
  datasyncs: 0,
  writes: 0,
  write: undefined,
  datasync: undefined,
  truncate: undefined,
  open: undefined,
  beforeDatasync: Effect.void
})

const injected = (op: string, path: string, code: string) =>
  new FsError({ op, path, code, message: `${code}: injected by test` })

/** `JournalFsLive` with counters and injectable failures. */
export const faultyFs = (faults: Faults): Effect.Effect<Context.Tag.Service<JournalFs>> =>
  Effect.gen(function* () {
    const real = yield* JournalFs
    const service: Context.Tag.Service<JournalFs> = {
      ...real,
      open: (file, mode, options) =>
        faults.open && mode === "create"
          ? Effect.fail(injected("open", file, faults.open))
          : real.open(file, mode, options).pipe(
            Effect.map((handle) => {
              /** Counts a sync and fails it if the test says so: an fdatasync, or a durable (O_DSYNC) write. */
              const sync = <A>(run: Effect.Effect<A, FsError>) =>
                Effect.suspend(() => {
                  faults.datasyncs++
                  return faults.beforeDatasync.pipe(
                    Effect.zipRight(faults.datasync ? Effect.fail(injected("fdatasync", file, faults.datasync)) : run)
                  )
                })
              const write = (bytes: Uint8Array, offset: number, length: number, position: number) =>
                Effect.suspend(() => {
                  faults.writes++
                  const fault = faults.write
                  if (!fault) return handle.write(bytes, offset, length, position)
                  const partial = Math.min(fault.partialBytes, length)
                  return (partial > 0 ? handle.write(bytes, offset, partial, position) : Effect.succeed(0)).pipe(
                    Effect.zipRight(Effect.fail(injected("write", file, fault.code)))
                  )
                })
              return {
                ...handle,
                write: handle.durableWrites
                  ? (bytes: Uint8Array, offset: number, length: number, position: number) =>
                    sync(write(bytes, offset, length, position))
                  : write,
                datasync: sync(handle.datasync),
                truncate: (length: number) =>
                  faults.truncate ? Effect.fail(injected("ftruncate", file, faults.truncate)) : handle.truncate(length)
              }
            })
          )
    }
    return service
  }).pipe(Effect.provide(JournalFsLive))

/** A journal in its own scope, so a test can close it (or not: a "crash") and open another. */
export const openJournal = (options: JournalOptions, faults: Faults = makeFaults()) =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    const fs = yield* faultyFs(faults)
    const journal: JournalService = yield* makeJournal(options).pipe(
      Scope.extend(scope),
      Effect.provideService(JournalFs, fs)
    )
    return { journal, faults, close: Scope.close(scope, Exit.void) }
  })

/** ~1 KB of JSON, numbered so order and identity can be checked. */
export const payload = (n: number, size = 1000): Uint8Array => {
  const head = JSON.stringify({ n, id: `evt-${n}` })
  return new TextEncoder().encode(head.padEnd(size, " "))
}

export const numberOf = (bytes: Uint8Array): number => (JSON.parse(new TextDecoder().decode(bytes)) as { n: number }).n

export const listDir = (dir: string) => Effect.promise(() => fsp.readdir(dir).then((names) => names.sort()))

export const fileSize = (file: string) => Effect.promise(() => fsp.stat(file).then((s) => s.size))
