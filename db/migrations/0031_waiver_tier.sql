-- Issue #12 (review): whether a stored waiver still stands (when its verdict is signed, when its
-- change is delivered, and for `verdict verify --require-pass`) was judged without the tier it was
-- granted at: an approver whose registration no longer covers that tier still counted. The tier
-- is kept with the waiver; a waiver stored before this has none, and is judged without it as before.
ALTER TABLE "waivers" ADD COLUMN "risk_tier" integer;
