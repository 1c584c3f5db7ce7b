import { Data } from "effect"

/**
 * Why a console token was refused. Each reason is fit for a 401 body; none of
 * them, nor `detail`, ever carries the token, a claim value or a secret.
 */
export type JwtFailure =
  | "malformed token"
  | "unsupported algorithm"
  | "unknown signing key"
  | "signing keys unavailable"
  | "invalid signature"
  | "token expired"
  | "token not yet valid"
  | "invalid issuer"
  | "invalid audience"
  | "invalid claims"

export class JwtError extends Data.TaggedError("JwtError")<{
  readonly reason: JwtFailure
  /** Which rule failed, in fixed wording (e.g. "vendor role requires vendor_id"). */
  readonly detail?: string
}> {
  override get message(): string {
    return this.detail === undefined ? this.reason : `${this.reason}: ${this.detail}`
  }
}
