/** `/health` is public: raw driver text stays in the log (finding 9). */
import { describe, expect, it } from "@effect/vitest"
import { publicComponentReason, publicReason } from "../../src/health/Http.js"

describe("/health database reason", () => {
  it("shows the kind of failure, never the driver's text", () => {
    expect(publicReason("connect ECONNREFUSED 10.1.2.3:5432", false)).toBe(
      "cannot use the database (ECONNREFUSED); the server log has the details"
    )
    const secret = publicReason("password authentication failed for user \"billing_admin\" on host db-prod-7.internal", false)
    expect(secret).toBe("the database is unavailable; the server log has the details")
    expect(secret).not.toContain("billing_admin")
  })

  it("shows the embedded server's own start failure (our sentence with its remedy) as is", () => {
    const ours = "embedded PostgreSQL could not start in /data/postgres: not a directory. To fix: set DATABASE_URL"
    expect(publicReason(ours, true)).toBe(ours)
  })

  it("keeps a component's own sentence and the error code, not the cause's text", () => {
    expect(publicComponentReason("not listening for other processes' events: connect ECONNREFUSED 10.0.0.7:5432")).toBe(
      "not listening for other processes' events (ECONNREFUSED); the server log has the details"
    )
    expect(publicComponentReason("flushes failing: relation \"secret\" does not exist")).toBe(
      "flushes failing; the server log has the details"
    )
    expect(publicComponentReason("the spill journal is full")).toBe("the spill journal is full")
  })
})
