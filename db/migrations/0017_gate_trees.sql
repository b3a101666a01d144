-- A gate result names the tree it judged: the verdict is signed only over gates that match the
-- results stored for its tree (a step completed by hand by its id cannot stand in for one), and a
-- run reset past verification finds the results its predecessor stored for the same tree.
ALTER TABLE "gate_results" ADD COLUMN "tree_id" text;
--> statement-breakpoint
CREATE INDEX "gate_results_task_tree_idx" ON "gate_results" USING btree ("tenant_id","task_id","tree_id");
