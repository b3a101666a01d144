/** The forms of the outside ids Arbiter checks before using them. */

/** A full git object id as git prints it: SHA-1 (40 hex digits) or SHA-256 (64). */
export const GIT_OBJECT_ID = /^[0-9a-f]{40}([0-9a-f]{24})?$/;

/** A Temporal run id, as the server makes them (a UUID). */
export const TEMPORAL_RUN_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
