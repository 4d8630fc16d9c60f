-- Where an interrupted full load goes on: the @odata.nextLink of the first
-- page not yet in the warehouse, and the scratch table of the keys it has
-- seen ('' when the load started on an empty table and keeps none).
ALTER TABLE sync_state ADD COLUMN next_link String;
ALTER TABLE sync_state ADD COLUMN seen_table String;
