CREATE TABLE "agents" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text,
	"name" text NOT NULL,
	"kind" text NOT NULL,
	"config" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"capabilities" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"max_concurrency" integer DEFAULT 1 NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "artifacts" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"task_id" text NOT NULL,
	"kind" text NOT NULL,
	"digest" text NOT NULL,
	"size_bytes" integer NOT NULL,
	"content" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "gate_results" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"task_id" text NOT NULL,
	"name" text NOT NULL,
	"kind" text NOT NULL,
	"status" text NOT NULL,
	"detail" text NOT NULL,
	"exit_code" integer,
	"duration_ms" integer,
	"output_digest" text,
	"output_tail" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "provenance_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"seq" integer NOT NULL,
	"kind" text NOT NULL,
	"subject" text NOT NULL,
	"payload" jsonb NOT NULL,
	"prev_hash" text NOT NULL,
	"hash" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "routing_decisions" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"task_id" text NOT NULL,
	"agent_id" text NOT NULL,
	"task_type" text NOT NULL,
	"reason" text NOT NULL,
	"exploration" boolean DEFAULT false NOT NULL,
	"candidates" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "task_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"task_id" text NOT NULL,
	"seq" integer NOT NULL,
	"from_state" text,
	"to_state" text NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"note" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "tasks" (
	"tenant_id" text NOT NULL,
	"id" text NOT NULL,
	"workflow_id" text NOT NULL,
	"state" text NOT NULL,
	"repo_path" text,
	"spec_id" text,
	"risk_tier" integer,
	"agent_id" text,
	"verdict" text,
	"error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "tasks_tenant_id_id_pk" PRIMARY KEY("tenant_id","id")
);
--> statement-breakpoint
CREATE TABLE "verdicts" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"task_id" text NOT NULL,
	"outcome" text NOT NULL,
	"digest" text NOT NULL,
	"payload" jsonb NOT NULL,
	"envelope" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "waivers" (
	"tenant_id" text NOT NULL,
	"id" text NOT NULL,
	"task_id" text,
	"title" text,
	"gates" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"delta" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"reason_code" text NOT NULL,
	"justification" text,
	"approvers" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "waivers_tenant_id_id_pk" PRIMARY KEY("tenant_id","id")
);
--> statement-breakpoint
CREATE INDEX "agents_status_idx" ON "agents" USING btree ("status");--> statement-breakpoint
CREATE INDEX "artifacts_task_idx" ON "artifacts" USING btree ("tenant_id","task_id");--> statement-breakpoint
CREATE UNIQUE INDEX "gate_results_task_name_uq" ON "gate_results" USING btree ("tenant_id","task_id","name");--> statement-breakpoint
CREATE UNIQUE INDEX "provenance_tenant_seq_uq" ON "provenance_events" USING btree ("tenant_id","seq");--> statement-breakpoint
CREATE UNIQUE INDEX "routing_decisions_task_uq" ON "routing_decisions" USING btree ("tenant_id","task_id");--> statement-breakpoint
CREATE UNIQUE INDEX "task_events_task_seq_uq" ON "task_events" USING btree ("tenant_id","task_id","seq");--> statement-breakpoint
CREATE INDEX "tasks_state_idx" ON "tasks" USING btree ("tenant_id","state");--> statement-breakpoint
CREATE UNIQUE INDEX "verdicts_task_uq" ON "verdicts" USING btree ("tenant_id","task_id");