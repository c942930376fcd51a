-- Background merges of the search index use FTS5's 'merge' with a positive page count, which
-- merges any level of two or more segments once usermerge is 2. The negative count used
-- before (the same merge, without the setting) corrupted the index of SQLite 3.40 when
-- documents were deleted and replaced between merges.
INSERT INTO customer_search (customer_search, rank) VALUES ('usermerge', 2);
