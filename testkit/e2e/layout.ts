/**
 * The multi-process layout on a fresh database: two receivers, an api process (SSE, console)
 * and a worker (jobs), each the real bundle (`dist/main.mjs`) with its own data directory,
 * the roles set by `ROLES` as in production (README → roles). The first receiver starts alone
 * so it runs the migrations; the others then start together.
 */
import { randomBytes } from "node:crypto"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import pg from "pg"
import { serverArgs } from "../../scripts/build.js"
import { freePort, type RunningServer, startServer } from "../server.js"

export interface Layout {
  readonly databaseUrl: string
  readonly receivers: ReadonlyArray<RunningServer>
  readonly api: RunningServer
  readonly worker: RunningServer
  readonly jwtSecret: string
  /** Runs `cli <args>` of the bundle on the same database (e.g. `jobs run rollup`). */
  readonly cli: (args: ReadonlyArray<string>) => Promise<string>
  readonly stop: () => Promise<void>
}

const admin = async <A>(adminUrl: string, f: (client: pg.Client) => Promise<A>) => {
  const client = new pg.Client({ connectionString: adminUrl })
  await client.connect()
  try {
    return await f(client)
  } finally {
    await client.end()
  }
}

export const startLayout = async (options: {
  readonly adminUrl: string
  readonly keep: boolean
  readonly env?: Readonly<Record<string, string>>
}): Promise<Layout> => {
  const dbName = `e2e_${Date.now().toString(36)}${randomBytes(2).toString("hex")}`
  await admin(options.adminUrl, (c) => c.query(`CREATE DATABASE ${dbName}`))
  const databaseUrl = Object.assign(new URL(options.adminUrl), { pathname: `/${dbName}` }).toString()
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "machpay-e2e-"))
  const jwtSecret = randomBytes(32).toString("base64url")
  const env = (name: string, roles: string): Record<string, string> => {
    const dataDir = path.join(root, name)
    fs.mkdirSync(dataDir, { recursive: true })
    return {
      DATABASE_URL: databaseUrl,
      DATA_DIR: dataDir,
      ROLES: roles,
      JWT_SECRET: jwtSecret,
      SSE_MAX_STREAMS_PER_USER: "100000",
      // Subscribers here read every event of a 10,000 events/s run: a bigger send buffer keeps
      // a briefly descheduled client from being cut off as a slow consumer on two cores.
      SSE_SEND_BUFFER_BYTES: String(64 * 1024 * 1024),
      ...options.env
    }
  }
  const started: Array<RunningServer> = []
  try {
    const first = await startServer(env("receiver-1", "receiver"), await freePort())
    started.push(first)
    const [second, api, worker] = await Promise.all([
      startServer(env("receiver-2", "receiver"), await freePort()),
      startServer(env("api", "api"), await freePort()),
      startServer(env("worker", "worker"), await freePort())
    ])
    started.push(second, api, worker)
    const cli = (args: ReadonlyArray<string>) =>
      new Promise<string>((resolve, reject) => {
        const child = spawn(process.execPath, [...serverArgs(), "cli", ...args], {
          env: { ...process.env, ...env("cli", "all"), LOG_LEVEL: "Warning" },
          stdio: ["ignore", "pipe", "pipe"]
        })
        let out = ""
        child.stdout.on("data", (c: Buffer) => (out += c.toString()))
        child.stderr.on("data", (c: Buffer) => (out += c.toString()))
        child.on("exit", (code) => (code === 0 ? resolve(out) : reject(new Error(`cli ${args.join(" ")} exited ${code}: ${out}`))))
      })
    return {
      databaseUrl,
      receivers: [first, second],
      api,
      worker,
      jwtSecret,
      cli,
      stop: async () => {
        await Promise.all(started.map((s) => s.stop()))
        if (!options.keep) {
          await admin(options.adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`))
          fs.rmSync(root, { recursive: true, force: true })
        }
      }
    }
  } catch (error) {
    await Promise.all(started.map((s) => s.stop()))
    throw error
  }
}
