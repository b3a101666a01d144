-- Issue #12: an agent's circuit breaker was the agent's, so a tenant's own workflow code could
-- report three failures of a shared agent for tasks it routed and keep it out of every tenant's
-- routing. Each tenant now has its own circuit per agent: its reports open and close only its
-- own. Circuits open under the old column were agent-wide and cannot be attributed: they close.
CREATE TABLE "agent_circuits" (
	"tenant_id" text NOT NULL,
	"agent_id" text NOT NULL,
	"consecutive_infra_failures" integer DEFAULT 0 NOT NULL,
	"circuit_open_until" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "agent_circuits_pk" PRIMARY KEY("tenant_id","agent_id")
);
--> statement-breakpoint
ALTER TABLE "agent_circuits" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "agent_circuits" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
DO $$
BEGIN
	EXECUTE format('CREATE POLICY arbiter_owner ON "agent_circuits" TO %I USING (true) WITH CHECK (true)', current_user);
END $$;
--> statement-breakpoint
CREATE POLICY arbiter_worker ON "agent_circuits" TO arbiter_worker USING (true) WITH CHECK (true);
--> statement-breakpoint
CREATE POLICY arbiter_cli ON "agent_circuits" FOR SELECT TO arbiter_cli USING (arbiter_cli_may_read(tenant_id));
--> statement-breakpoint
GRANT SELECT ON "agent_circuits" TO arbiter_cli;
--> statement-breakpoint
GRANT SELECT, INSERT, UPDATE ON "agent_circuits" TO arbiter_worker;
--> statement-breakpoint
ALTER TABLE "agents" DROP COLUMN "consecutive_infra_failures";
--> statement-breakpoint
ALTER TABLE "agents" DROP COLUMN "circuit_open_until";
