/**
 * How a write failure is classified: by the SQLSTATE the server sent; a broken socket is
 * "unreachable" (retried until the database is back), never a refusal of the data.
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
    ["40001", "transient"], // serialization failure
    ["53300", "transient"], // too many connections
    ["57014", "transient"], // statement cancelled
    ["57P01", "unreachable"], // admin shutdown
    ["57P03", "unreachable"], // starting up
    ["08006", "unreachable"]
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
  ])("a socket error %s is unreachable, without a SQLSTATE", (code, syscall) => {
    const error = storeErrorOf(systemError(code, syscall))
    expect(error.kind).toBe("unreachable")
    expect(error.code).toBeUndefined()
  })

  it("an error without a code (connection terminated, client closed) is unreachable", () => {
    expect(storeErrorOf(new Error("Connection terminated unexpectedly")).kind).toBe("unreachable")
    expect(storeErrorOf(undefined).kind).toBe("unreachable")
  })
})
