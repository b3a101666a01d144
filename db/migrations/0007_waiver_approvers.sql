CREATE TABLE "approvers" (
	"tenant_id" text NOT NULL,
	"name" text NOT NULL,
	"tiers" jsonb DEFAULT '[1,2,3]'::jsonb NOT NULL,
	"active" boolean DEFAULT true NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "approvers_tenant_id_name_pk" PRIMARY KEY("tenant_id","name")
);
--> statement-breakpoint
CREATE TABLE "waiver_decisions" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"task_id" text NOT NULL,
	"approver" text NOT NULL,
	"decision" text NOT NULL,
	"detail" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "waiver_decisions_approver_idx" ON "waiver_decisions" USING btree ("tenant_id","approver","created_at");