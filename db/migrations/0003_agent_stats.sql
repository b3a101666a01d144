CREATE TABLE "agent_outcomes" (
	"tenant_id" text NOT NULL,
	"task_id" text NOT NULL,
	"agent_id" text NOT NULL,
	"task_type" text NOT NULL,
	"outcome" text NOT NULL,
	"reward" double precision NOT NULL,
	"latency_ms" integer NOT NULL,
	"tokens" integer DEFAULT 0 NOT NULL,
	"cost_usd" double precision DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "agent_outcomes_tenant_id_task_id_pk" PRIMARY KEY("tenant_id","task_id")
);
--> statement-breakpoint
CREATE TABLE "agent_stats" (
	"tenant_id" text NOT NULL,
	"agent_id" text NOT NULL,
	"task_type" text NOT NULL,
	"tasks" integer DEFAULT 0 NOT NULL,
	"successes" double precision DEFAULT 0 NOT NULL,
	"failures" double precision DEFAULT 0 NOT NULL,
	"total_latency_ms" bigint DEFAULT 0 NOT NULL,
	"total_tokens" bigint DEFAULT 0 NOT NULL,
	"total_cost_usd" double precision DEFAULT 0 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "agent_stats_tenant_id_agent_id_task_type_pk" PRIMARY KEY("tenant_id","agent_id","task_type")
);
--> statement-breakpoint
ALTER TABLE "agents" ADD COLUMN "consecutive_infra_failures" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "agents" ADD COLUMN "circuit_open_until" timestamp with time zone;