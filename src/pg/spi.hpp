// SPI for the extension's own statements (spi.cpp): the extension's schema,
// connecting, writing a statement, running it with search_path fixed (and
// as the extension's owner), and reading a result.
#pragma once

#include "pg_prelude.hpp"

// Installs the ExecutorStart hook that checks the relations of our own
// statements (from _PG_init).
void qxt_spi_init(void);
// The extension's schema (read from pg_extension, no SQL): its OID, and its
// name quoted for SQL.
Oid qxt_extension_namespace(void);
const char* qxt_extension_schema(void);
// SPI_connect_ext(options); raises XX000 "<who>: SPI_connect failed".
void qxt_spi_connect(int options, const char* who);
// A statement's text, printf-style, palloc'd.
char* qxt_sql(const char* fmt, ...) pg_attribute_printf(1, 2);
// SPI_execute / SPI_execute_with_args (nargs > 0) for the extension's own
// statements, with search_path fixed to "pg_catalog, pg_temp" while it runs,
// and refused (42501) if its plan uses a relation outside the extension's
// schema, pg_catalog and this session's temporary schema (the extension's
// schema renamed and its name taken).  SPI must be connected.  Returns SPI's
// result code.
int qxt_spi_execute(const char* sql, bool read_only, long tcount, int nargs = 0,
                    Oid* types = nullptr, Datum* values = nullptr, const char* nulls = nullptr);
// qxt_spi_execute as role `owner` (the extension's owner).  `restricted`
// adds SECURITY_RESTRICTED_OPERATION; only creating temporary tables goes
// without it (PostgreSQL forbids that inside one; matview.c does the same
// for its diff table).  On error the (sub)transaction abort restores the
// caller's identity.
int qxt_spi_execute_as(Oid owner, bool restricted, const char* sql, bool read_only,
                       long tcount = 0, int nargs = 0, Oid* types = nullptr,
                       Datum* values = nullptr, const char* nulls = nullptr);
// Whether the current user may read table `relid` (SELECT on the table or
// on every column of it).
bool qxt_may_read(Oid relid);
// Column `col` (from 1) of row `row` of the last result as int8; 0 when NULL.
int64 qxt_spi_int8(int row, int col);
