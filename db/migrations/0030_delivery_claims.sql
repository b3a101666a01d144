-- Issue #12 (review): one task id was delivered into two repositories. An insider terminated the
-- run while `deliverChange` ran, so the task never reached COMPLETED, then started the task id
-- again naming another of the tenant's repositories: the new run took the unfinished task over,
-- passed, and delivered `arbiter/<task>` there too. A run now claims the delivery on the task's
-- row before it writes to any repository; another run may neither deliver nor take the task over.
ALTER TABLE "tasks" ADD COLUMN "delivering_run_id" text;
--> statement-breakpoint
-- Issue #12 (review): a provenance row with a negative seq was never read by the chain's walk,
-- which started at 0, yet counted as a delivery for `verdict verify --require-pass`. No new row
-- may have one; one already stored is reported by `provenance verify`, which now reads them all.
ALTER TABLE "provenance_events" ADD CONSTRAINT "provenance_events_seq_from_zero" CHECK ("seq" >= 0) NOT VALID;
