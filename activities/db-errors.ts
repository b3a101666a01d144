/**
 * Which database errors retrying can fix. PostgreSQL names every error by SQLSTATE; the classes
 * below are about the statement or the data, so the same statement fails the same way again and
 * is refused at once ({@link DatabaseRejectedError}). Everything else (connection refused or
 * reset, admin shutdown, serialization failures, deadlocks) is an outage or a race, and retried.
 */
import { translateErrors, type Activity } from './wrap';
import { DatabaseError } from 'pg';
import { DatabaseRejectedError } from '../domain/errors';

/**
 * 21 cardinality violation, 22 data exception, 23 integrity constraint violation, 42 syntax
 * error or access rule violation, 44 WITH CHECK OPTION (row-level security) violation, P0 an
 * exception raised by a trigger.
 */
const DETERMINISTIC_CLASSES = new Set(['21', '22', '23', '42', '44', 'P0']);

/** The PostgreSQL error behind `err` (drizzle wraps it as the cause), if any. */
function postgresError(err: unknown): DatabaseError | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++)
    if (e instanceof DatabaseError) return e;
  return undefined;
}

/** `err` as a non-retryable DatabaseRejectedError when PostgreSQL refused the statement itself; else `err`. */
export function classifyDatabaseError(err: unknown): unknown {
  const pgError = postgresError(err);
  const code = pgError?.code;
  if (!pgError || !code || !DETERMINISTIC_CLASSES.has(code.slice(0, 2))) return err;
  return new DatabaseRejectedError(code, pgError.message);
}

/**
 * Wraps every activity of `activities` so a deterministic database error fails the attempt as
 * {@link DatabaseRejectedError}: one place, so no activity retries a refused statement forever.
 */
export function refuseDeterministicDatabaseErrors<T extends Record<string, Activity>>(activities: T): T {
  return translateErrors(activities, classifyDatabaseError);
}
