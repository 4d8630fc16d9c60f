-- The order of marks within one second: reviewed_at has whole seconds, so a
-- steward who marks a group twice in one second (reviewed, then not a
-- duplicate) would leave which mark counts to the order rows are read in.
-- reviewed_ns is the mark's time in nanoseconds since the epoch (0 in marks
-- stored before); the latest mark is the greatest (reviewed_at, reviewed_ns).
ALTER TABLE dq_reviews ADD COLUMN reviewed_ns UInt64;
