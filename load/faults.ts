/**
 * Durability fault scenarios against the real server (issue 4).
 *
 *   npx tsx load/faults.ts [--short] [scenario …]
 *
 * Scenarios: databaseOutage sigterm sigkill corruptJournal journalFull (default: all).
 * Full form: 10 s load, 20 s fault, 10 s after. `--short` is the form the test suite runs.
 */
import { FULL, printReport, SCENARIOS, SHORT } from "../testkit/faults/scenarios.js"

const args = process.argv.slice(2)
const timing = args.includes("--short") ? SHORT : FULL
const names = args.filter((a) => !a.startsWith("--"))
const selected = (names.length > 0 ? names : Object.keys(SCENARIOS)) as Array<keyof typeof SCENARIOS>

for (const name of selected) {
  const scenario = SCENARIOS[name]
  if (!scenario) throw new Error(`unknown scenario ${name}; expected ${Object.keys(SCENARIOS).join(", ")}`)
  printReport(await scenario(timing))
}
