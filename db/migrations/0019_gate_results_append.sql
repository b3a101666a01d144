-- Issue #12: a failure stands. A retried gate used to replace its attempt's row, so a failing
-- check run again under the same attempt (with any tree) until it passed left no trace of the
-- failure. Every result is now its own row; the latest on a tree counts, and an earlier failure
-- of the same check on the same change is seen.
DROP INDEX IF EXISTS "gate_results_run_attempt_name_uq";
--> statement-breakpoint
CREATE INDEX "gate_results_run_attempt_name_idx" ON "gate_results" USING btree ("tenant_id","task_id","run_id","attempt","name");
