/** Console requests wait briefly for start-up migrations, then answer 503 instead of failing on missing tables. */
import { Effect } from "effect"
import { DatabaseStatus } from "../db/Database.js"
import { Unavailable } from "./Errors.js"

export const databaseReady = Effect.flatMap(DatabaseStatus, (status) =>
  status.ready.pipe(
    Effect.timeoutFail({
      duration: "3 seconds",
      onTimeout: () => new Unavailable({ message: "the database is not ready yet; retry shortly" })
    })
  ))
