-- Issue #10, "tenants kept apart": registered repositories, tenant grants for CLI roles, and
-- row-level security on every table with a tenant_id, for the roles 0010 created. Idempotent
-- where it touches the cluster (roles are shared by every database on it).
CREATE TABLE IF NOT EXISTS "repos" (
	"tenant_id" text NOT NULL,
	"name" text NOT NULL,
	"path" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "repos_tenant_id_name_pk" PRIMARY KEY("tenant_id","name")
);
--> statement-breakpoint
CREATE TABLE IF NOT EXISTS "tenant_members" (
	"role_name" text NOT NULL,
	"tenant_id" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "tenant_members_role_name_tenant_id_pk" PRIMARY KEY("role_name","tenant_id")
);
--> statement-breakpoint
-- True when the connected role may read `tenant` through arbiter_cli: it asked for that tenant
-- (app.tenant_id) AND the admin granted it (tenant_members, to the role or a role it belongs to).
-- Every name is schema-qualified and the search_path pinned: a SQL function's body is resolved
-- with the caller's path, where a temporary table named tenant_members would otherwise win.
DO $do$
BEGIN
	EXECUTE format($f$
		CREATE OR REPLACE FUNCTION %1$I.arbiter_cli_may_read(tenant text) RETURNS boolean
		LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $body$
			SELECT $1 = pg_catalog.current_setting('app.tenant_id', true)
				AND EXISTS (
					SELECT 1 FROM %1$I.tenant_members m JOIN pg_catalog.pg_roles r ON r.rolname = m.role_name
					WHERE m.tenant_id = $1 AND pg_catalog.pg_has_role(current_user, r.oid, 'MEMBER')
				)
		$body$$f$, current_schema());
	-- Nothing the application roles do needs temporary tables; none may shadow a table by name.
	EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
END $do$;
--> statement-breakpoint
DO $$
DECLARE
	t text;
BEGIN
	EXECUTE format('GRANT USAGE ON SCHEMA %I TO arbiter_worker, arbiter_cli', current_schema());
	FOR t IN
		SELECT c.table_name FROM information_schema.columns c
		JOIN information_schema.tables tb ON tb.table_schema = c.table_schema AND tb.table_name = c.table_name
		WHERE c.table_schema = current_schema() AND c.column_name = 'tenant_id' AND tb.table_type = 'BASE TABLE'
	LOOP
		EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
		EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
		-- The role running migrations (the owner / admin) keeps seeing everything.
		EXECUTE format('DROP POLICY IF EXISTS arbiter_owner ON %I', t);
		EXECUTE format('CREATE POLICY arbiter_owner ON %I TO %I USING (true) WITH CHECK (true)', t, current_user);
		-- The worker serves every tenant of its namespace; its privileges (below) say what it may do.
		EXECUTE format('DROP POLICY IF EXISTS arbiter_worker ON %I', t);
		EXECUTE format('CREATE POLICY arbiter_worker ON %I TO arbiter_worker USING (true) WITH CHECK (true)', t);
		EXECUTE format('DROP POLICY IF EXISTS arbiter_cli ON %I', t);
		IF t = 'tenant_members' THEN
			-- A CLI role sees its own grants (what arbiter_cli_may_read consults), nobody else's.
			EXECUTE format(
				'CREATE POLICY arbiter_cli ON %I FOR SELECT TO arbiter_cli USING (EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = role_name AND pg_has_role(current_user, r.oid, %L)))',
				t, 'MEMBER');
		ELSE
			-- Read-only, one tenant at a time; agents without a tenant serve everyone and are shown to all.
			EXECUTE format('CREATE POLICY arbiter_cli ON %I FOR SELECT TO arbiter_cli USING (arbiter_cli_may_read(tenant_id)%s)',
				t, CASE WHEN t = 'agents' THEN ' OR tenant_id IS NULL' ELSE '' END);
		END IF;
		EXECUTE format('GRANT SELECT ON %I TO arbiter_cli', t);
	END LOOP;
END $$;
--> statement-breakpoint
-- What the worker writes. Provenance is append-only (no UPDATE or DELETE); registrations,
-- grants and approvers are the admin's, so the worker only reads them.
GRANT SELECT, INSERT, UPDATE, DELETE ON
	"tasks", "task_events", "agents", "routing_decisions", "gate_results", "waivers", "verdicts", "artifacts",
	"sandbox_events", "agent_stats", "agent_outcomes", "conversations", "conversation_messages", "waiver_decisions"
	TO arbiter_worker;
--> statement-breakpoint
GRANT SELECT, INSERT ON "provenance_events" TO arbiter_worker;
--> statement-breakpoint
GRANT SELECT ON "repos", "approvers" TO arbiter_worker;
--> statement-breakpoint
-- The worker never writes registrations, grants or approvers (0010 granted it every table of its time).
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON "repos", "approvers", "tenant_members" FROM arbiter_worker;
--> statement-breakpoint
DO $$
BEGIN
	EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO arbiter_worker', current_schema());
END $$;
