-- Up Migration
-- Room in each nodes page for the re-import's update of the row to stay on its page (a HOT update): no
-- new entry in either index. Every load by another job rewrites a node's bookkeeping columns, none of them
-- indexed; with full pages each of those updates moved the row and inserted into both indexes.
-- Applies to pages written from now on (existing ones keep their layout until rewritten).
ALTER TABLE nodes SET (fillfactor = 60);
