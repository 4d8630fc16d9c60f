-- The scheduler's leases (package schedule/lease): two ampel run processes
-- on one ClickHouse server (two pods) never sync the same schedule group at
-- once. One row per claim of a group's lease (grp, epoch, token); the claim's
-- holder writes it again with a higher seq to mark it won, renew it or
-- release it, so FINAL shows each claim's latest state. Times are the
-- server's (now()), never a pod's clock. Safe to run twice.
CREATE TABLE IF NOT EXISTS scheduler_leases
(
    grp String,                   -- the schedule group
    epoch UInt64,                 -- one more than the epoch the claimer found
    token String,                 -- unique per claim
    holder String,                -- host:pid:random of the claiming process
    claimed_at DateTime('UTC'),   -- server time of the claim
    expires_at DateTime('UTC'),   -- server time the hold ends unless renewed
    won UInt8,                    -- 1: this claim won its epoch
    released UInt8,               -- 1: given back (run done, or claim abandoned)
    seq UInt64                    -- the holder's write counter of this claim
)
ENGINE = ReplacingMergeTree(seq)
ORDER BY (grp, epoch, token);
