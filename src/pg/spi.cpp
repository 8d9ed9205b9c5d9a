// SPI for the extension's own statements.  Every statement the C code runs
// through here sees search_path = pg_catalog, pg_temp, whatever the caller's
// path is, so a function or operator planted in a schema of the caller's path
// (in PostgreSQL 15 a database owner may create objects in public) can never
// stand in for a built-in.  The extension's own objects are named through
// their schema (qxt_extension_schema()).  Statements the user wrote (the
// source query of qxt_refresh) do not go through here: they run as written.
//
// A schema's name is not the schema, though.  The owner of the extension's
// schema (in PostgreSQL 15, public belongs to the database's owner) may
// rename it and create another schema under the old name, with look-alike
// tables, triggers and views; a statement of ours planned after that would
// use them (and qxt_refresh's writes run as the extension's owner).  So
// while one of our statements runs, an ExecutorStart hook checks the plan
// about to run: every relation in it must belong to the extension's schema
// (by OID, read from pg_extension), pg_catalog or this session's temporary
// schema.  The executor works with those OIDs from then on, so no later
// rename can redirect the statement.
//
// The same check runs earlier too, as soon as the statement is parsed
// (post_parse_analyze_hook), before the rewriter and the planner see it:
// the planner runs code of the relations it plans for (it folds a call of
// a function declared IMMUTABLE, in a look-alike view's WHERE or a column
// default, by calling it), and that code would run as the extension's
// owner before any ExecutorStart hook could refuse.
#include "spi.hpp"

#include "qxt_pg.hpp"

extern "C" {
#include "access/genam.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_namespace.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "nodes/nodeFuncs.h"
#include "parser/analyze.h"
#include "utils/acl.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
}

namespace {

constexpr const char* kSafePath = "pg_catalog, pg_temp";

ExecutorStart_hook_type prev_executor_start = nullptr;
// The extension's schema while one of our statements runs, else InvalidOid.
Oid g_guarded_nsp = InvalidOid;

void verify_rtable(List* rtable) {
  ListCell* lc;
  foreach (lc, rtable) {
    const RangeTblEntry* rte = lfirst_node(RangeTblEntry, lc);
    if (rte->rtekind != RTE_RELATION) continue;
    const Oid nsp = get_rel_namespace(rte->relid);
    if (nsp == g_guarded_nsp || nsp == PG_CATALOG_NAMESPACE || isTempNamespace(nsp)) continue;
    const char* schema = get_namespace_name(nsp);
    const char* rel = get_rel_name(rte->relid);
    ereport(ERROR,
            (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
             errmsg("qxt_portability refuses to run a statement on relation \"%s.%s\", outside "
                    "the extension's schema",
                    schema ? schema : "?", rel ? rel : "?"),
             errdetail("The extension names its tables through its schema's name, and another "
                       "schema now has that name: the extension's schema was renamed. Nothing "
                       "of that statement ran."),
             errhint("Rename the schemas back; only a superuser should own the extension's "
                     "schema (ALTER SCHEMA ... OWNER TO a superuser).")));
  }
}

void verify_relations(const PlannedStmt* ps) { verify_rtable(ps->rtable); }

// Every Query of a parsed statement: the top one, subqueries in FROM, CTEs
// and sublinks.  (PostgreSQL 15 declares walkers as bool (*)().)
bool verify_query_walker(Node* node, void* ctx);
using Walker = bool (*)();
bool verify_query_walker(Node* node, void* ctx) {
  if (node == nullptr) return false;
  if (IsA(node, Query)) {
    Query* q = reinterpret_cast<Query*>(node);
    verify_rtable(q->rtable);
    return query_tree_walker(q, reinterpret_cast<Walker>(verify_query_walker), ctx, 0);
  }
  return expression_tree_walker(node, reinterpret_cast<Walker>(verify_query_walker), ctx);
}

post_parse_analyze_hook_type prev_post_parse_analyze = nullptr;

void guarded_post_parse_analyze(ParseState* pstate, Query* query, JumbleState* jstate) {
  if (OidIsValid(g_guarded_nsp) && query != nullptr)
    (void)verify_query_walker(reinterpret_cast<Node*>(query), nullptr);
  if (prev_post_parse_analyze != nullptr) prev_post_parse_analyze(pstate, query, jstate);
}

void guarded_executor_start(QueryDesc* qd, int eflags) {
  if (OidIsValid(g_guarded_nsp) && qd->plannedstmt != nullptr) verify_relations(qd->plannedstmt);
  if (prev_executor_start != nullptr)
    prev_executor_start(qd, eflags);
  else
    standard_ExecutorStart(qd, eflags);
}

}  // namespace

// The extension's schema, from pg_extension (no SQL, so no search_path).
Oid qxt_extension_namespace(void) {
  Relation rel = table_open(ExtensionRelationId, AccessShareLock);
  ScanKeyData key;
  ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber, F_NAMEEQ,
              CStringGetDatum("qxt_portability"));
  SysScanDesc scan = systable_beginscan(rel, ExtensionNameIndexId, true, nullptr, 1, &key);
  HeapTuple tup = systable_getnext(scan);
  Oid nsp = HeapTupleIsValid(tup) ? reinterpret_cast<Form_pg_extension>(GETSTRUCT(tup))->extnamespace
                                  : InvalidOid;
  systable_endscan(scan);
  table_close(rel, AccessShareLock);
  if (!OidIsValid(nsp))
    ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT),
                    errmsg("extension qxt_portability is not installed in this database")));
  return nsp;
}

const char* qxt_extension_schema(void) {
  const char* name = get_namespace_name(qxt_extension_namespace());
  if (name == nullptr)
    ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT),
                    errmsg("the schema of extension qxt_portability does not exist")));
  return quote_identifier(name);
}

void qxt_spi_connect(int options, const char* who) {
  if (SPI_connect_ext(options) != SPI_OK_CONNECT)
    ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("%s: SPI_connect failed", who)));
}

char* qxt_sql(const char* fmt, ...) {
  StringInfoData buf;
  initStringInfo(&buf);
  for (;;) {
    va_list args;
    va_start(args, fmt);
    int needed = appendStringInfoVA(&buf, fmt, args);
    va_end(args);
    if (needed == 0) break;
    enlargeStringInfo(&buf, needed);
  }
  return buf.data;
}

void qxt_spi_init(void) {
  prev_executor_start = ExecutorStart_hook;
  ExecutorStart_hook = guarded_executor_start;
  prev_post_parse_analyze = post_parse_analyze_hook;
  post_parse_analyze_hook = guarded_post_parse_analyze;
}

int qxt_spi_execute(const char* sql, bool read_only, long tcount, int nargs, Oid* types,
                    Datum* values, const char* nulls) {
  const Oid saved_nsp = g_guarded_nsp;
  const Oid nsp = qxt_extension_namespace();
  // A GUC nest level of our own: the path is restored when the statement
  // ends, and by transaction or subtransaction abort if it raises.
  const int level = NewGUCNestLevel();
  (void)set_config_option("search_path", kSafePath, PGC_USERSET, PGC_S_SESSION,
                          GUC_ACTION_SAVE, true, 0, false);
  int rc;
  g_guarded_nsp = nsp;
  PG_TRY();
  {
    rc = nargs > 0 ? SPI_execute_with_args(sql, nargs, types, values, nulls, read_only, tcount)
                   : SPI_execute(sql, read_only, tcount);
  }
  PG_CATCH();
  {
    g_guarded_nsp = saved_nsp;
    PG_RE_THROW();
  }
  PG_END_TRY();
  g_guarded_nsp = saved_nsp;
  AtEOXact_GUC(true, level);
  return rc;
}

int qxt_spi_execute_as(Oid owner, bool restricted, const char* sql, bool read_only, long tcount,
                       int nargs, Oid* types, Datum* values, const char* nulls) {
  Oid save_user;
  int save_sec;
  GetUserIdAndSecContext(&save_user, &save_sec);
  SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE |
                                    (restricted ? SECURITY_RESTRICTED_OPERATION : 0));
  int rc = qxt_spi_execute(sql, read_only, tcount, nargs, types, values, nulls);
  SetUserIdAndSecContext(save_user, save_sec);
  return rc;
}

int64 qxt_spi_int8(int row, int col) {
  bool isnull;
  Datum d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, &isnull);
  return isnull ? 0 : DatumGetInt64(d);
}

bool qxt_may_read(Oid relid) {
  return pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) == ACLCHECK_OK ||
         pg_attribute_aclcheck_all(relid, GetUserId(), ACL_SELECT, ACLMASK_ALL) == ACLCHECK_OK;
}
