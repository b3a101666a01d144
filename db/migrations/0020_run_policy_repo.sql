-- Issue #12: the repository a run's policy was read from. A run of one's own could read the
-- policy of another of the tenant's repositories (a laxer one) and have a verdict naming this
-- one judged by it; a verdict now names the repository whose policy its run read. Rows stored
-- before this have none, and are not checked.
ALTER TABLE "run_policies" ADD COLUMN "repo_path" text;
