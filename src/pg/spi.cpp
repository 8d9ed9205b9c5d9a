// SPI for the extension's own statements.  Every statement the C code runs
// through here sees search_path = pg_catalog, pg_temp, whatever the caller's
// path is, so a function or operator planted in a schema of the caller's path
// (in PostgreSQL 15 a database owner may create objects in public) can never
// stand in for a built-in.  The extension's own objects are named through
// their schema (qxt_extension_schema()).  Statements the user wrote (the
// source query of qxt_refresh) do not go through here: they run as written.
#include "qxt_pg.hpp"

extern "C" {
#include "executor/spi.h"
}

namespace {
constexpr const char* kSafePath = "pg_catalog, pg_temp";
}

int qxt_spi_execute(const char* sql, bool read_only, long tcount, int nargs, Oid* types,
                    Datum* values, const char* nulls) {
  // A GUC nest level of our own: the path is restored when the statement
  // ends, and by transaction or subtransaction abort if it raises.
  const int level = NewGUCNestLevel();
  (void)set_config_option("search_path", kSafePath, PGC_USERSET, PGC_S_SESSION,
                          GUC_ACTION_SAVE, true, 0, false);
  const int rc = nargs > 0 ? SPI_execute_with_args(sql, nargs, types, values, nulls, read_only, tcount)
                           : SPI_execute(sql, read_only, tcount);
  AtEOXact_GUC(true, level);
  return rc;
}
