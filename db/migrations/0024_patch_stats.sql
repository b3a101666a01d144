-- Issue #12: a verdict stated the change's measurement (files, lines, bytes) as its workflow
-- handed it over, and storeWaiver passed a budget without measuring the overrun: a run of one's
-- own could sign "3 lines" for a 50,000-line change, or have approvers sign a small delta for a
-- change over the byte budget. A patch now records what measureDiff measured; both check it.
ALTER TABLE "artifacts" ADD COLUMN "stats" jsonb;
