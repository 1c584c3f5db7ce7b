/**
 * One PostgreSQL server for the whole run: `TEST_DATABASE_URL` when given (CI points it at the
 * machine's PostgreSQL 15), otherwise an embedded server in a temporary directory. Each test
 * file creates its own database on it (see `database.ts`), so files never share state.
 */
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import type { TestProject } from "vitest/node"
import { buildServer } from "../../scripts/build.js"
import { startServer } from "../../src/db/embedded/postgresProcess.js"
import { freePort } from "./helpers.js"

declare module "vitest" {
  export interface ProvidedContext {
    adminDatabaseUrl: string
  }
}


export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // End-to-end tests start what `npm start` starts: the bundle, built once here for all files.
  buildServer()
  const given = process.env["TEST_DATABASE_URL"]
  if (given) {
    project.provide("adminDatabaseUrl", given)
    return async () => undefined
  }
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "machpay-test-pg-"))
  await fs.chmod(dir, 0o755)
  const server = await startServer({ dataDir: path.join(dir, "data"), port: await freePort() })
  project.provide("adminDatabaseUrl", server.url)
  return async () => {
    await server.stop()
    await fs.rm(dir, { recursive: true, force: true })
  }
}
