/**
 * The file operations the journal needs, behind a tag so tests can count fsyncs and inject
 * ENOSPC/EIO or short writes without a real full disk. `JournalFsLive` is `node:fs/promises`.
 */
import { Context, Data, Effect, Layer } from "effect"
import { constants } from "node:fs"
import * as fs from "node:fs/promises"

export class FsError extends Data.TaggedError("FsError")<{
  readonly op: string
  readonly path: string
  /** errno code (ENOSPC, EIO, ENOENT, …) when the platform gave one. */
  readonly code: string | undefined
  readonly message: string
}> {}

export interface JournalFile {
  /**
   * Opened with `durableWrites`: every write returns only once its bytes are on disk (O_DSYNC),
   * so a write is its own fdatasync and an I/O error of the sync is the write's error.
   */
  readonly durableWrites: boolean
  /** Positional write; may write fewer bytes than asked (the caller loops). */
  readonly write: (bytes: Uint8Array, offset: number, length: number, position: number) => Effect.Effect<number, FsError>
  readonly read: (into: Uint8Array, offset: number, length: number, position: number) => Effect.Effect<number, FsError>
  readonly datasync: Effect.Effect<void, FsError>
  readonly truncate: (length: number) => Effect.Effect<void, FsError>
  readonly size: Effect.Effect<number, FsError>
  readonly close: Effect.Effect<void, FsError>
}

export interface DirectoryEntry {
  readonly name: string
  readonly isFile: boolean
}

export class JournalFs extends Context.Tag("Journal/FileSystem")<JournalFs, {
  /**
   * `create`: new file, fails if it exists; `update`: existing file, read+write; `read`: read only.
   * `durableWrites` (for `create`): see `JournalFile.durableWrites`.
   */
  readonly open: (
    path: string,
    mode: "create" | "update" | "read",
    options?: { readonly durableWrites?: boolean }
  ) => Effect.Effect<JournalFile, FsError>
  readonly makeDirectory: (path: string) => Effect.Effect<void, FsError>
  readonly readDirectory: (path: string) => Effect.Effect<ReadonlyArray<DirectoryEntry>, FsError>
  readonly rename: (from: string, to: string) => Effect.Effect<void, FsError>
  readonly remove: (path: string) => Effect.Effect<void, FsError>
  /** Last modification time, epoch ms. */
  readonly modifiedAt: (path: string) => Effect.Effect<number, FsError>
  /** fsync of a directory, so a created, renamed or removed name survives a crash. */
  readonly syncDirectory: (path: string) => Effect.Effect<void, FsError>
}>() {}

const codeOf = (cause: unknown): string | undefined => {
  if (typeof cause === "object" && cause !== null && "code" in cause && typeof cause.code === "string") return cause.code
  return undefined
}

const attempt = <A>(op: string, path: string, run: () => Promise<A>): Effect.Effect<A, FsError> =>
  Effect.tryPromise({
    try: run,
    catch: (cause) =>
      new FsError({ op, path, code: codeOf(cause), message: cause instanceof Error ? cause.message : String(cause) })
  })

const FLAGS = { create: "wx", update: "r+", read: "r" } as const
/** `wx` with O_DSYNC: one system call writes and syncs, instead of a write and an fdatasync. */
const CREATE_DURABLE = constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | (constants.O_DSYNC ?? 0)

const wrap = (path: string, handle: fs.FileHandle, durableWrites: boolean): JournalFile => ({
  durableWrites,
  write: (bytes, offset, length, position) =>
    attempt("write", path, () => handle.write(bytes, offset, length, position)).pipe(Effect.map((r) => r.bytesWritten)),
  read: (into, offset, length, position) =>
    attempt("read", path, () => handle.read(into, offset, length, position)).pipe(Effect.map((r) => r.bytesRead)),
  datasync: attempt("fdatasync", path, () => handle.datasync()),
  truncate: (length) => attempt("ftruncate", path, () => handle.truncate(length)),
  size: attempt("fstat", path, () => handle.stat()).pipe(Effect.map((s) => s.size)),
  close: attempt("close", path, () => handle.close())
})

export const JournalFsLive: Layer.Layer<JournalFs> = Layer.succeed(JournalFs, {
  open: (path, mode, options) => {
    // Where the platform has no O_DSYNC the segment is a plain file, synced with fdatasync.
    const durable = mode === "create" && options?.durableWrites === true && typeof constants.O_DSYNC === "number"
    return attempt("open", path, () => fs.open(path, durable ? CREATE_DURABLE : FLAGS[mode])).pipe(
      Effect.map((h) => wrap(path, h, durable))
    )
  },
  makeDirectory: (path) => attempt("mkdir", path, () => fs.mkdir(path, { recursive: true })).pipe(Effect.asVoid),
  readDirectory: (path) =>
    attempt("readdir", path, () => fs.readdir(path, { withFileTypes: true })).pipe(
      Effect.map((entries) => entries.map((e) => ({ name: e.name, isFile: e.isFile() })))
    ),
  rename: (from, to) => attempt("rename", from, () => fs.rename(from, to)),
  remove: (path) => attempt("unlink", path, () => fs.unlink(path)),
  modifiedAt: (path) => attempt("stat", path, () => fs.stat(path)).pipe(Effect.map((s) => s.mtimeMs)),
  syncDirectory: (path) =>
    attempt("fsync", path, async () => {
      const handle = await fs.open(path, "r")
      try {
        await handle.sync()
      } finally {
        await handle.close()
      }
    })
})
