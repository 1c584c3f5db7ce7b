/**
 * Which SQL errors the console answers 503 (the database cannot serve now; retry) rather than
 * 500 (a bug): by the SQLSTATE of the driver's error, or a socket error's code.
 */
import { SqlError } from "@effect/sql/SqlError"
import pg from "pg"
import { describe, expect, it } from "vitest"
import { isUnreachable } from "../../src/console/Failures.js"

const fromServer = (code: string) =>
  new SqlError({ message: "query failed", cause: Object.assign(new pg.DatabaseError("from the server", 0, "error"), { code }) })

describe("isUnreachable", () => {
  it.each(["55000", "53300", "53200", "57P01", "57P03", "08006"])("SQLSTATE %s: the database cannot serve now", (code) => {
    expect(isUnreachable(fromServer(code))).toBe(true)
  })

  it.each(["42P01", "22007", "23505", "42703"])("SQLSTATE %s: the statement is wrong (a bug)", (code) => {
    expect(isUnreachable(fromServer(code))).toBe(false)
  })

  it("a refused socket is unreachable", () => {
    const cause = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" })
    expect(isUnreachable(new SqlError({ message: "query failed", cause }))).toBe(true)
  })
})
