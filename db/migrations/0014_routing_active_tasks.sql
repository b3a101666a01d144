-- Routing counts each agent's running tasks on every decision: index only the tasks still running,
-- so that count costs what is in flight, not every task ever run. db/agents.ts names the same states.
CREATE INDEX IF NOT EXISTS "tasks_active_idx" ON "tasks" USING btree ("tenant_id","id","run_id") WHERE "state" NOT IN ('COMPLETED', 'REJECTED', 'FAILED', 'CANCELLED');
