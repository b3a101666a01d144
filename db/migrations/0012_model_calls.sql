CREATE TABLE "model_calls" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"task_id" text NOT NULL,
	"run_id" text DEFAULT '' NOT NULL,
	"agent_id" text NOT NULL,
	"session_id" text NOT NULL,
	"purpose" text NOT NULL,
	"upstream" text NOT NULL,
	"protocol" text NOT NULL,
	"method" text NOT NULL,
	"path" text NOT NULL,
	"model" text,
	"status" integer NOT NULL,
	"streamed" boolean NOT NULL,
	"request_digest" text NOT NULL,
	"response_digest" text NOT NULL,
	"request_body" text NOT NULL,
	"response_body" text NOT NULL,
	"truncated" boolean DEFAULT false NOT NULL,
	"input_tokens" integer DEFAULT 0 NOT NULL,
	"output_tokens" integer DEFAULT 0 NOT NULL,
	"cost_usd" double precision DEFAULT 0 NOT NULL,
	"latency_ms" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "model_calls_run_idx" ON "model_calls" USING btree ("tenant_id","task_id","run_id");--> statement-breakpoint
-- Issue #11: the gateway's call record, kept apart per tenant like every other table (see 0011).
ALTER TABLE "model_calls" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "model_calls" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
DO $$
BEGIN
	EXECUTE format('CREATE POLICY arbiter_owner ON "model_calls" TO %I USING (true) WITH CHECK (true)', current_user);
END $$;
--> statement-breakpoint
CREATE POLICY arbiter_worker ON "model_calls" TO arbiter_worker USING (true) WITH CHECK (true);
--> statement-breakpoint
CREATE POLICY arbiter_cli ON "model_calls" FOR SELECT TO arbiter_cli USING (arbiter_cli_may_read(tenant_id));
--> statement-breakpoint
GRANT SELECT ON "model_calls" TO arbiter_cli;
--> statement-breakpoint
-- A call record is evidence: the worker appends, never rewrites.
GRANT SELECT, INSERT ON "model_calls" TO arbiter_worker;
--> statement-breakpoint
GRANT USAGE, SELECT ON SEQUENCE "model_calls_id_seq" TO arbiter_worker;
