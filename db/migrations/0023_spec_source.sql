-- Issue #12: a verdict names its spec by the digest of the text the task submitted, and nothing
-- checked it: a run of one's own could validate one spec (a wider scope, the same id and tier) and
-- sign a verdict naming another's digest. A validated spec now records the digest of the text it
-- was validated from; a verdict must name it.
ALTER TABLE "artifacts" ADD COLUMN "source_digest" text;
