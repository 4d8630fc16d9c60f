-- A table's load generation: every full load raises it, and the landing
-- rows carry it in the high bits of _version, so that a reload wins over
-- every row stored before it whatever the source's version numbers (they
-- go back when an environment is restored or copied). And the newest
-- versionnumber a sync of a table without change tracking read: a lower
-- one later means the source went back. 0 in rows written before.
ALTER TABLE sync_state ADD COLUMN generation UInt32;
ALTER TABLE sync_state ADD COLUMN source_version UInt64;
