/**
 * A process that starts the embedded PostgreSQL of a data directory and holds it until it is
 * killed: `tsx holdEmbedded.ts <dataDir> <port>`. Prints "ready <postmaster pid>" once up.
 * SIGKILLed, it leaves what a killed server leaves: an orphaned postmaster and its record.
 */
import { readFileSync } from "node:fs"
import * as path from "node:path"
import { startServer } from "../../../src/db/embedded/postgresProcess.js"

const [dataDir = "", port = ""] = process.argv.slice(2)
const server = await startServer({ dataDir, port: Number(port) })
const postmaster = readFileSync(path.join(server.dataDir, "postmaster.pid"), "utf8").split("\n")[0]
process.stdout.write(`ready ${postmaster}\n`)
setInterval(() => undefined, 60_000)
