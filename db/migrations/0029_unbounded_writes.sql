-- Issue #12 (review): every role may write what no quota bounds. Large objects outlive the session:
-- a tenant's read-only CLI role wrote 200 MB in ten seconds from one connection, and a few of them
-- filling the disk stop every tenant's steps. `pg_logical_emit_message` writes WAL at will (ten
-- calls, 500 MB). Arbiter uses neither, so no role may now. As with 0027, only a superuser can
-- change a built-in function's grants: a migration run by another role leaves them as they are
-- (README, Tenants kept apart).
DO $$
DECLARE
  f regprocedure;
BEGIN
  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    RAISE NOTICE 'not a superuser: every role may still create large objects and emit WAL messages';
    RETURN;
  END IF;
  FOR f IN
    SELECT p.oid::regprocedure FROM pg_proc p
    WHERE p.pronamespace = 'pg_catalog'::regnamespace
      AND p.proname IN ('lo_create', 'lo_creat', 'lo_from_bytea', 'lo_import', 'pg_logical_emit_message')
  LOOP
    EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
  END LOOP;
END $$;
