-- Issue #12: a retried activity counts once. A signed waiver decision is recorded once per task
-- (a retry of authorizeWaiverDecision finds it there), and an agent's health is reported once
-- per run (a retry of recordAgentHealth finds its report in the ledger and changes nothing).
DELETE FROM "waiver_decisions" a USING "waiver_decisions" b
	WHERE a.id > b.id AND a.tenant_id = b.tenant_id AND a.task_id = b.task_id
	AND a.detail->>'signature' = b.detail->>'signature';
--> statement-breakpoint
CREATE UNIQUE INDEX "waiver_decisions_signature_uq" ON "waiver_decisions" USING btree ("tenant_id","task_id",(("detail"->>'signature')));
--> statement-breakpoint
CREATE TABLE "agent_health_reports" (
	"tenant_id" text NOT NULL,
	"task_id" text NOT NULL,
	"run_id" text NOT NULL,
	"agent_id" text NOT NULL,
	"ok" boolean NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "agent_health_reports_pk" PRIMARY KEY("tenant_id","task_id","run_id","agent_id")
);
--> statement-breakpoint
ALTER TABLE "agent_health_reports" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "agent_health_reports" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
DO $$
BEGIN
	EXECUTE format('CREATE POLICY arbiter_owner ON "agent_health_reports" TO %I USING (true) WITH CHECK (true)', current_user);
END $$;
--> statement-breakpoint
CREATE POLICY arbiter_worker ON "agent_health_reports" TO arbiter_worker USING (true) WITH CHECK (true);
--> statement-breakpoint
CREATE POLICY arbiter_cli ON "agent_health_reports" FOR SELECT TO arbiter_cli USING (arbiter_cli_may_read(tenant_id));
--> statement-breakpoint
GRANT SELECT ON "agent_health_reports" TO arbiter_cli;
--> statement-breakpoint
-- The ledger only grows: the worker appends a report, never rewrites one.
GRANT SELECT, INSERT ON "agent_health_reports" TO arbiter_worker;
