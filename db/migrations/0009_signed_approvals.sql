ALTER TABLE "approvers" ADD COLUMN "key_id" text;--> statement-breakpoint
CREATE UNIQUE INDEX "approvers_tenant_key_uq" ON "approvers" USING btree ("tenant_id","key_id");--> statement-breakpoint
ALTER TABLE "waivers" ADD COLUMN "spec_id" text;--> statement-breakpoint
ALTER TABLE "waivers" ADD COLUMN "approvals" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "waivers" ADD COLUMN "used_by_task" text;--> statement-breakpoint
ALTER TABLE "waivers" ADD COLUMN "used_by_run" text;
