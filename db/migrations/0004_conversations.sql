CREATE TABLE "conversation_messages" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"conversation_id" text NOT NULL,
	"seq" integer NOT NULL,
	"role" text NOT NULL,
	"turn" integer,
	"content" text,
	"tool_calls" jsonb,
	"tool_call_id" text,
	"prompt_tokens" integer,
	"completion_tokens" integer,
	"cost_usd" double precision,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "conversations" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"task_id" text NOT NULL,
	"agent_id" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX "conversation_messages_seq_uq" ON "conversation_messages" USING btree ("conversation_id","seq");--> statement-breakpoint
CREATE UNIQUE INDEX "conversation_messages_turn_uq" ON "conversation_messages" USING btree ("conversation_id","turn");--> statement-breakpoint
CREATE UNIQUE INDEX "conversation_messages_tool_uq" ON "conversation_messages" USING btree ("conversation_id","tool_call_id");--> statement-breakpoint
CREATE INDEX "conversations_task_idx" ON "conversations" USING btree ("tenant_id","task_id");