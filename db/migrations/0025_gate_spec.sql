-- Issue #12: gate results named the tree they judged but not the spec that fixed them. A run of
-- one's own could validate a lax spec, have its budget, scope and acceptance gates pass on a tree,
-- then validate the reviewed spec (in the same run, or another run of the task) and have a verdict
-- naming the reviewed spec signed over the lax spec's results. Each row now names its spec.
ALTER TABLE "gate_results" ADD COLUMN "spec_digest" text;
