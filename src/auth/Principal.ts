/**
 * Who a console token speaks for, as the contract and the handlers see it. Types only: the
 * middleware tags (`Authentication.ts`) name it without pulling in token verification.
 */
export type Role = "vendor" | "agent" | "admin"

interface PrincipalBase {
  readonly subject: string
  /** Epoch seconds (the token's `exp`). */
  readonly expiresAt: number
}

export type Principal =
  | (PrincipalBase & { readonly role: "admin" })
  | (PrincipalBase & { readonly role: "vendor"; readonly vendorId: string })
  | (PrincipalBase & { readonly role: "agent"; readonly agentId: string })

/** Whom a token is minted for (the CLI's development tokens, tests and benchmarks). */
export type PrincipalSpec =
  | { readonly role: "admin"; readonly subject: string }
  | { readonly role: "vendor"; readonly vendorId: string; readonly subject?: string }
  | { readonly role: "agent"; readonly agentId: string; readonly subject?: string }
