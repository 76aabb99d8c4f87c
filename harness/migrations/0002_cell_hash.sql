-- What decides a cell's numbers (Cell::measure_hash): earlier runs are a cell's noise history only
-- while it matches. NULL for cells recorded before it existed: they are no cell's history.
ALTER TABLE cells ADD COLUMN cell_hash TEXT;
