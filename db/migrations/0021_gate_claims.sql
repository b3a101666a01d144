-- Issue #12: one run of a check on a change at a time. A failure stands, but only once it is
-- stored: workflow code of one's own could run the same check on a tree many times at once and
-- sign on the first pass before the failing runs stored theirs. `runGate` now holds this claim
-- while the check runs; another activity finds it held and is retried. The claim is a lease its
-- holder renews under its own token; one left by a worker lost mid-check lapses at `expires_at`.
CREATE TABLE "gate_claims" (
	"tenant_id" text NOT NULL,
	"task_id" text NOT NULL,
	"tree_id" text NOT NULL,
	"name" text NOT NULL,
	"holder" text NOT NULL,
	"token" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	CONSTRAINT "gate_claims_pk" PRIMARY KEY("tenant_id","task_id","tree_id","name")
);
--> statement-breakpoint
ALTER TABLE "gate_claims" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "gate_claims" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
DO $$
BEGIN
	EXECUTE format('CREATE POLICY arbiter_owner ON "gate_claims" TO %I USING (true) WITH CHECK (true)', current_user);
END $$;
--> statement-breakpoint
CREATE POLICY arbiter_worker ON "gate_claims" TO arbiter_worker USING (true) WITH CHECK (true);
--> statement-breakpoint
GRANT SELECT, INSERT, UPDATE, DELETE ON "gate_claims" TO arbiter_worker;
