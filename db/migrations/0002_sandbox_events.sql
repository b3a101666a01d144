CREATE TABLE "sandbox_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"task_id" text NOT NULL,
	"kind" text NOT NULL,
	"op" text NOT NULL,
	"path" text,
	"allowed" boolean NOT NULL,
	"reason" text,
	"bytes" integer,
	"digest_before" text,
	"digest_after" text,
	"detail" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "sandbox_events_task_idx" ON "sandbox_events" USING btree ("tenant_id","task_id");