/** The sentence an operator reads when the embedded PostgreSQL cannot start: why, then what to do. */
import { describe, expect, it } from "vitest"
import { explain } from "../../src/db/EmbeddedPostgres.js"
import { EmbeddedInUseError } from "../../src/db/embedded/postgresProcess.js"

const DIR = "/srv/app/.data/postgres"

describe("explain", () => {
  it("says a permission failure is about the postgres OS user, and what to do", () => {
    const error = explain(new Error(`spawn ${DIR}/../node_modules/x/initdb EACCES`), DIR, 54329)
    expect(error.inUse).toBe(false)
    expect(error.message).toMatch(new RegExp(`^embedded PostgreSQL could not start in ${DIR}: spawn .* EACCES\\. To fix: `))
    expect(error.message).toMatch(/OS user "postgres"/)
    expect(error.message).toMatch(/set DATABASE_URL .* choose a DATA_DIR .* run as a non-root user$/)
  })

  it("names EMBEDDED_PG_PORT when the port is taken", () => {
    const error = explain(new Error("postgres exited during start-up (code 1): LOG: could not bind IPv4 address \"127.0.0.1\": Address already in use"), DIR, 5432)
    expect(error.message).toMatch(/port 5432 is taken by another program; set EMBEDDED_PG_PORT/)
  })

  it("keeps one line of a long error, and passes an owner conflict through as it is", () => {
    expect(explain(new Error("initdb failed (1): first\nsecond\nthird"), DIR, 1).message).not.toMatch(/second/)
    const owner = { pid: 1, startId: null, role: "server" as const, port: 1, postmasterPid: 2, postmasterStartId: null, since: "" }
    const inUse = explain(new EmbeddedInUseError(DIR, owner, "another server (process 1) is running"), DIR, 1)
    expect(inUse).toMatchObject({ inUse: true, message: "another server (process 1) is running" })
  })
})
