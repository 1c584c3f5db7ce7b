/**
 * How a write failure is classified: by the SQLSTATE the server sent; a broken socket is
 * "unavailable" (retried until the database is back), never a refusal of the data.
 */
import { describe, expect, it } from "vitest"
import pg from "pg"
import { storeErrorOf } from "../../src/ingest/EventStore.js"

const databaseError = (code: string) => Object.assign(new pg.DatabaseError("from the server", 0, "error"), { code, severity: "ERROR" })
const systemError = (code: string, syscall: string) => Object.assign(new Error(`${syscall} ${code}`), { code, errno: -32, syscall })

describe("storeErrorOf", () => {
  it.each([
    ["54000", "permanent"], // index row too large
    ["22007", "permanent"], // invalid datetime
    ["23505", "permanent"],
    ["40001", "unavailable"], // serialization failure: the data is fine
    ["40P01", "unavailable"], // deadlock
    ["53300", "unavailable"], // too many connections (a probe: a second at max_connections dead-lettered acknowledged events)
    ["53100", "unavailable"], // disk full
    ["55000", "unavailable"], // database not accepting connections
    ["55P03", "unavailable"], // lock not available
    ["58030", "unavailable"], // I/O error
    ["25006", "unavailable"], // read-only transaction: a failover to a standby
    ["53200", "transient"], // out of memory: a smaller batch may pass
    ["53400", "transient"], // configuration limit (temp_file_limit): a smaller batch may pass
    ["57014", "transient"], // statement cancelled (statement_timeout): a smaller batch may pass
    ["XX000", "transient"], // internal error
    ["57P01", "unavailable"], // admin shutdown
    ["57P03", "unavailable"], // starting up
    ["08006", "unavailable"]
  ] as const)("SQLSTATE %s from the server is %s", (code, kind) => {
    const error = storeErrorOf(databaseError(code))
    expect(error.kind).toBe(kind)
    expect(error.code).toBe(code)
  })

  it.each([
    ["EPIPE", "write"], // five capitals, like a SQLSTATE: the socket broke while PostgreSQL stopped
    ["EBUSY", "read"],
    ["ECONNREFUSED", "connect"],
    ["ECONNRESET", "read"]
  ])("a socket error %s is unavailable, without a SQLSTATE", (code, syscall) => {
    const error = storeErrorOf(systemError(code, syscall))
    expect(error.kind).toBe("unavailable")
    expect(error.code).toBeUndefined()
  })

  it("an error without a code (connection terminated, client closed) is unavailable", () => {
    expect(storeErrorOf(new Error("Connection terminated unexpectedly")).kind).toBe("unavailable")
    expect(storeErrorOf(undefined).kind).toBe("unavailable")
  })
})
