-- Issue #12: a verdict names its change by the patch's digest (the statement's subject) and its
-- tree, and the gates judged the tree: nothing tied the one to the other, so a run of one's own
-- could sign a PASS whose subject was another attempt's patch, one a gate had failed. A patch now
-- records the tree and base it was measured as; a verdict names a patch only with both.
ALTER TABLE "artifacts" ADD COLUMN "tree_id" text;
--> statement-breakpoint
ALTER TABLE "artifacts" ADD COLUMN "base_commit" text;
