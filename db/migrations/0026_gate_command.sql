-- Issue #12: gate results did not name where a gate came from or what it ran. A verdict stated
-- each gate's source and argv as the workflow handed them over, so an insider's run could have
-- the worker sign a gate that ran `true` as `npm test`, or Arbiter's budget gate as the policy's.
-- Each row now names both; rows stored before this have neither, and are held to the rest.
ALTER TABLE "gate_results" ADD COLUMN "source" text;--> statement-breakpoint
ALTER TABLE "gate_results" ADD COLUMN "argv" jsonb;
