// SQL functions every SQLite connection of the platform gets.
#pragma once

#include <soci/sqlite3/soci-sqlite3.h>

namespace crm::platform {

/// Registers, on one connection, the FTS5 auxiliary function
///
///     match_tier(fts_table, tier_of_column_0, tier_of_column_1, ...)
///
/// The tier of a match, lower for better matches, from the columns its phrases are found in:
/// each phrase counts the best (smallest) tier among the columns it occurs in, and the match
/// is as good as its worst phrase. It is one better still (column 0's tier minus one) when
/// every phrase is in a column of column 0's tier and the first phrase is column 0's first
/// token. Columns past the arguments take the last one's tier.
///
/// The tiers mirror what FTS5's column filters select: with tiers t(c), a match has a tier of
/// at most T exactly when it matches `{every column c with t(c) <= T} : (phrases)`, and tier
/// t(0) - 1 when it matches `{column 0} : (^first rest)` (when column 0 alone has its tier).
/// So a search can read one tier at a time, in rowid order, and stop as soon as it has what
/// it needs, where a score ranks every match first; this function gives the same tiers in
/// one pass where all matches are read anyway.
/// Returns false when FTS5 is not available.
bool register_sqlite_functions(sqlite_api::sqlite3* conn);

}  // namespace crm::platform
