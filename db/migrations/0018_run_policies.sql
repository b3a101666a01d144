-- Issue #12: the policy a run judges by is the one its own loadRepoPolicy read from the
-- repository, stored here, not the object its workflow hands to later steps (which anyone with
-- write access to the namespace can choose). The run that holds a task still open now read its
-- policy before this table existed: it gets a row without a policy, and its steps keep the
-- policy they are handed. No other run of the task does. A gate result names the base commit
-- its tree was measured against, so a verdict cannot name another base than the one Arbiter's
-- gates judged the change from.
CREATE TABLE "run_policies" (
	"tenant_id" text NOT NULL,
	"task_id" text NOT NULL,
	"run_id" text NOT NULL,
	"policy" jsonb,
	"provenance" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "run_policies_pk" PRIMARY KEY("tenant_id","task_id","run_id")
);
--> statement-breakpoint
INSERT INTO "run_policies" ("tenant_id", "task_id", "run_id")
	SELECT "tenant_id", "id", "run_id" FROM "tasks" WHERE "run_id" <> '' AND "state" NOT IN ('COMPLETED', 'REJECTED', 'FAILED', 'CANCELLED');
--> statement-breakpoint
ALTER TABLE "run_policies" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "run_policies" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
DO $$
BEGIN
	EXECUTE format('CREATE POLICY arbiter_owner ON "run_policies" TO %I USING (true) WITH CHECK (true)', current_user);
END $$;
--> statement-breakpoint
CREATE POLICY arbiter_worker ON "run_policies" TO arbiter_worker USING (true) WITH CHECK (true);
--> statement-breakpoint
CREATE POLICY arbiter_cli ON "run_policies" FOR SELECT TO arbiter_cli USING (arbiter_cli_may_read(tenant_id));
--> statement-breakpoint
GRANT SELECT ON "run_policies" TO arbiter_cli;
--> statement-breakpoint
GRANT SELECT, INSERT ON "run_policies" TO arbiter_worker;
--> statement-breakpoint
ALTER TABLE "gate_results" ADD COLUMN "base_commit" text;
