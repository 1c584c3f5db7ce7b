/**
 * Money on the wire: a non-negative decimal string, never a JSON number (floats
 * lose cents). Bounds follow the SQL column, numeric(38,18).
 */
import { Schema } from "effect"

export const MONEY_PATTERN = /^(0|[1-9][0-9]{0,19})(\.[0-9]{1,18})?$/

const mustBe = "must be a decimal string such as \"0.25\""

export const Money = Schema.String.annotations({ message: () => mustBe }).pipe(
  Schema.pattern(MONEY_PATTERN, {
    message: () => `${mustBe} (no sign or exponent, at most 20 integer digits and 18 decimal places)`
  }),
  Schema.brand("Money")
).annotations({ description: "Non-negative decimal amount as a string, e.g. \"0.25\"." })
export type Money = typeof Money.Type
