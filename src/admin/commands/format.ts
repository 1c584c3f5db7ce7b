/** Rendering of command results: aligned text tables for people, JSON for scripts. */
import { Option } from "effect"
import { CLI } from "../CliError.js"
import type { Entity } from "../AdminRepo.js"

export type Output = ReadonlyArray<string>

export const json = (value: unknown): Output => [JSON.stringify(value, null, 2)]

/** Columns padded to their widest cell; trailing spaces trimmed. */
export const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): Output => {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) => cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join("  ").trimEnd()
  return [line(header), ...rows.map(line)]
}

export const orDash = (value: Option.Option<string | number>): string => Option.match(value, { onNone: () => "-", onSome: String })

export const iso = (date: Date): string => date.toISOString()

export const isoOrNull = (date: Option.Option<Date>): string | null => Option.getOrNull(Option.map(date, iso))

/** What to run to see the existing entities of a kind (for error hints). */
export const listHint = (entity: Entity): string => `see the existing ones with: ${CLI} ${entity} list`
