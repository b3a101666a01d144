-- Issue #12 (review): every role may call the pg_advisory_* functions, and the worker's lock keys
-- are fixed. A tenant's CLI role holding one (another tenant's provenance chain, a shared agent's
-- routing claim, the migration) stalled the other tenant's steps, and with them the worker's
-- pool. Only the worker's group and the schema's owner lock now. Only a superuser can change
-- the grants of built-in functions: a migration run by another role leaves them as they are
-- (README, Tenants kept apart).
DO $$
DECLARE
  f regprocedure;
  owner name := (SELECT tableowner FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'tasks');
BEGIN
  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    RAISE NOTICE 'not a superuser: the pg_advisory functions stay open to every role';
    RETURN;
  END IF;
  FOR f IN
    SELECT p.oid::regprocedure FROM pg_proc p
    WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.proname LIKE 'pg\_%advisory\_%'
  LOOP
    EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO arbiter_worker', f);
    IF owner IS NOT NULL THEN
      EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', f, owner);
    END IF;
  END LOOP;
END $$;
