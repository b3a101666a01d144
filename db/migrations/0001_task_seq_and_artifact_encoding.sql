ALTER TABLE "artifacts" ADD COLUMN "encoding" text DEFAULT 'utf8' NOT NULL;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "last_seq" integer DEFAULT -1 NOT NULL;