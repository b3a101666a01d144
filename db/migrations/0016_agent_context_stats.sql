-- Issue #13: routing learns per context (task type, risk tier, size class) as well as per task
-- type, and from the verdict less the cost term the policy sets. One row per tenant, agent and context.
CREATE TABLE "agent_context_stats" (
	"tenant_id" text NOT NULL,
	"agent_id" text NOT NULL,
	"context" text NOT NULL,
	"tasks" integer DEFAULT 0 NOT NULL,
	"successes" double precision DEFAULT 0 NOT NULL,
	"failures" double precision DEFAULT 0 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "agent_context_stats_pk" PRIMARY KEY("tenant_id","agent_id","context")
);
--> statement-breakpoint
ALTER TABLE "agent_context_stats" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "agent_context_stats" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
DO $$
BEGIN
	EXECUTE format('CREATE POLICY arbiter_owner ON "agent_context_stats" TO %I USING (true) WITH CHECK (true)', current_user);
END $$;
--> statement-breakpoint
CREATE POLICY arbiter_worker ON "agent_context_stats" TO arbiter_worker USING (true) WITH CHECK (true);
--> statement-breakpoint
CREATE POLICY arbiter_cli ON "agent_context_stats" FOR SELECT TO arbiter_cli USING (arbiter_cli_may_read(tenant_id));
--> statement-breakpoint
GRANT SELECT ON "agent_context_stats" TO arbiter_cli;
--> statement-breakpoint
GRANT SELECT, INSERT, UPDATE ON "agent_context_stats" TO arbiter_worker;
