// SQL functions every SQLite connection of the platform gets.
#pragma once

#include <soci/sqlite3/soci-sqlite3.h>

namespace crm::platform {

/// Registers, on one connection, the FTS5 auxiliary function
///
///     weighted_match(fts_table, weight_of_column_0, weight_of_column_1, ...)
///
/// It ranks a document by where its phrases are found. Each phrase of the query counts the
/// weight of the best column it occurs in (half as much again at the column's first token),
/// plus its other occurrences' weights up to half the best one's: a word twice in a name
/// ranks above once, and no number of mentions in a long text outranks the name. The rank
/// is minus the sum over the phrases, so that ORDER BY puts the best first, as with bm25().
/// Unlike bm25() it reads neither each document's length nor each phrase's document count:
/// those cost a b-tree lookup per matching row and a walk of every phrase's whole posting
/// list per query, three quarters of a search over a word found in thousands of documents.
/// Returns false when FTS5 is not available.
bool register_sqlite_functions(sqlite_api::sqlite3* conn);

}  // namespace crm::platform
