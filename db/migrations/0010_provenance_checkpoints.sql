CREATE TABLE "provenance_checkpoints" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"seq" integer NOT NULL,
	"head_hash" text NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"key_id" text NOT NULL,
	"envelope" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX "provenance_checkpoints_tenant_seq_key_uq" ON "provenance_checkpoints" USING btree ("tenant_id","seq","key_id");
--> statement-breakpoint
-- Provenance is append-only for everyone, the tables' owner included: changing or removing a row
-- takes disabling this trigger first (ALTER TABLE ... DISABLE TRIGGER), which only an owner or
-- superuser can, and which is itself a DDL statement a database audit log records.
CREATE OR REPLACE FUNCTION "arbiter_provenance_append_only"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION '% on % refused: provenance is append-only', TG_OP, TG_TABLE_NAME
		USING ERRCODE = 'insufficient_privilege';
END;
$$;
--> statement-breakpoint
CREATE TRIGGER "provenance_events_append_only" BEFORE UPDATE OR DELETE ON "provenance_events"
	FOR EACH ROW EXECUTE FUNCTION "arbiter_provenance_append_only"();
--> statement-breakpoint
CREATE TRIGGER "provenance_events_no_truncate" BEFORE TRUNCATE ON "provenance_events"
	FOR EACH STATEMENT EXECUTE FUNCTION "arbiter_provenance_append_only"();
--> statement-breakpoint
CREATE TRIGGER "provenance_checkpoints_append_only" BEFORE UPDATE OR DELETE ON "provenance_checkpoints"
	FOR EACH ROW EXECUTE FUNCTION "arbiter_provenance_append_only"();
--> statement-breakpoint
CREATE TRIGGER "provenance_checkpoints_no_truncate" BEFORE TRUNCATE ON "provenance_checkpoints"
	FOR EACH STATEMENT EXECUTE FUNCTION "arbiter_provenance_append_only"();
--> statement-breakpoint
-- Roles are cluster-wide: another database on the same server (or a concurrent migration of one)
-- may have created them already. Without CREATEROLE, an administrator creates them first.
DO $$
DECLARE
	r text;
BEGIN
	FOREACH r IN ARRAY ARRAY['arbiter_worker', 'arbiter_cli'] LOOP
		IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
			BEGIN
				EXECUTE format('CREATE ROLE %I NOLOGIN', r);
			EXCEPTION
				WHEN duplicate_object OR unique_violation THEN NULL;
				WHEN insufficient_privilege THEN
					RAISE EXCEPTION 'role % is missing and % may not create it: as an administrator run CREATE ROLE % NOLOGIN, then migrate again', r, current_user, r;
			END;
		END IF;
	END LOOP;
END;
$$;
--> statement-breakpoint
GRANT USAGE ON SCHEMA public TO arbiter_worker, arbiter_cli;
--> statement-breakpoint
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO arbiter_worker;
--> statement-breakpoint
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO arbiter_worker;
--> statement-breakpoint
GRANT SELECT ON ALL TABLES IN SCHEMA public TO arbiter_cli;
--> statement-breakpoint
REVOKE UPDATE, DELETE, TRUNCATE ON "provenance_events", "provenance_checkpoints" FROM arbiter_worker, arbiter_cli;
