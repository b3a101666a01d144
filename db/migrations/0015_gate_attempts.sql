-- Issue #13: an agent whose change fails blocking gates may try again in the same run, and each
-- attempt's gate evidence is kept: a gate's row is per attempt (the first attempt is attempt 1).
ALTER TABLE "gate_results" ADD COLUMN "attempt" integer DEFAULT 1 NOT NULL;
--> statement-breakpoint
DROP INDEX IF EXISTS "gate_results_run_name_uq";
--> statement-breakpoint
CREATE UNIQUE INDEX "gate_results_run_attempt_name_uq" ON "gate_results" USING btree ("tenant_id","task_id","run_id","attempt","name");
