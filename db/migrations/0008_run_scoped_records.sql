DROP INDEX "gate_results_task_name_uq";--> statement-breakpoint
DROP INDEX "routing_decisions_task_uq";--> statement-breakpoint
DROP INDEX "task_events_task_seq_uq";--> statement-breakpoint
DROP INDEX "verdicts_task_uq";--> statement-breakpoint
ALTER TABLE "agent_outcomes" ADD COLUMN "run_id" text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "artifacts" ADD COLUMN "run_id" text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "conversations" ADD COLUMN "run_id" text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "gate_results" ADD COLUMN "run_id" text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "routing_decisions" ADD COLUMN "run_id" text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "task_events" ADD COLUMN "run_id" text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "run_id" text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "verdicts" ADD COLUMN "run_id" text DEFAULT '' NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "gate_results_run_name_uq" ON "gate_results" USING btree ("tenant_id","task_id","run_id","name");--> statement-breakpoint
CREATE UNIQUE INDEX "routing_decisions_run_uq" ON "routing_decisions" USING btree ("tenant_id","task_id","run_id");--> statement-breakpoint
CREATE UNIQUE INDEX "task_events_run_seq_uq" ON "task_events" USING btree ("tenant_id","task_id","run_id","seq");--> statement-breakpoint
CREATE UNIQUE INDEX "verdicts_run_uq" ON "verdicts" USING btree ("tenant_id","task_id","run_id");