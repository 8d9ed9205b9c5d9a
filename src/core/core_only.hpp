// Included by every core header: the core is plain C++17 and must be
// included before any PostgreSQL header (postgres.h's macros clash with the
// standard library), and must never call PostgreSQL.
#pragma once
#ifdef POSTGRES_H
#error "include core headers before postgres.h (see src/pg/pg_prelude.hpp)"
#endif
