// Statement units: what "one payment per number per statement" counts as a
// statement.  PostgreSQL sets the statement start time once per query
// message, so two statements sent in one string would share it; instead,
// executor and utility hooks track nesting and give every outermost
// statement a unit of its own:
//
//   - each top-level statement of a multi-statement string is a unit;
//   - a CALL or DO is one unit with everything it runs, across the COMMITs
//     of a procedure; statements inside functions, PL/pgSQL loops and
//     triggers belong to the statement that called them;
//   - deferred triggers, fired by a commit outside every statement, belong
//     to the COMMIT: they use the fallback key below (statement start and
//     transaction), one memo for the whole transaction's triggers;
//   - a query run by a portal is one unit across all its runs: a cursor
//     (DECLARE ... CLOSE) across its FETCHes (FETCH and MOVE themselves are
//     transparent), an extended-protocol portal across its Execute messages.
//     Such a unit is keyed by the portal's QueryDesc and ends when the
//     executor state is freed (ExecutorEnd, or the abort that drops it).
//
// Each live unit has its own memo, so statements that run between two
// FETCHes of a cursor do not make the cursor forget (and pay again).
//
// When the library is loaded by the statement that first calls it (it was
// not preloaded), the statements of that query message started untracked:
// until the next message, lookups fall back to the pre-1.1 key (statement
// start time and local transaction id).  Preloading (shared_ or
// session_preload_libraries) makes every statement exact.
#include "qxt_pg.hpp"

extern "C" {
#include "executor/executor.h"
#include "nodes/parsenodes.h"
#include "tcop/utility.h"
#include "tcop/pquery.h"
#include "utils/timestamp.h"
}

// A statement unit: plain data in PostgreSQL memory; `memo` is the only C++
// object it owns, created inside the C++ boundary on first use and deleted
// when the unit ends.
struct QxtUnit {
  uint64 id;
  const QueryDesc* query;    // the portal's query, or nullptr for a utility statement
  qxt::StatementMemo* memo;  // nullptr until a lookup of this unit needs it
  int64_t spent;             // numbers sent in paid requests (qxt.statement_budget)
  QxtUnit* next;             // live query units (g_query_units)
  MemoryContextCallback end; // query units: runs when the executor state is freed
};

namespace {

ExecutorRun_hook_type prev_executor_run = nullptr;
ExecutorFinish_hook_type prev_executor_finish = nullptr;
ProcessUtility_hook_type prev_process_utility = nullptr;

int g_depth = 0;                  // executor/utility nesting of tracked statements
QxtUnit* g_current = nullptr;     // the outermost statement being executed
QxtUnit* g_query_units = nullptr; // live units of portals' queries
uint64 g_next_unit = 0;

// Loaded in the middle of a statement: until the query message ends (its
// start time changes), the pre-1.1 key is used.
bool g_untracked_message = false;
TimestampTz g_untracked_start = 0;

void delete_memo(QxtUnit* u) noexcept {
  qxt::StatementMemo* m = u->memo;
  u->memo = nullptr;
  try {
    delete m;
  } catch (...) {
    // A destructor of standard containers does not throw; nothing to do.
  }
}

// The executor state of a query unit is being freed: the unit ends.
void query_unit_end(void* arg) {
  auto* u = static_cast<QxtUnit*>(arg);
  for (QxtUnit** p = &g_query_units; *p != nullptr; p = &(*p)->next) {
    if (*p == u) {
      *p = u->next;
      break;
    }
  }
  if (g_current == u) g_current = nullptr;
  delete_memo(u);
}

// The unit of a portal's query, created on its first outermost run.
QxtUnit* unit_for_query(QueryDesc* qd) {
  for (QxtUnit* u = g_query_units; u != nullptr; u = u->next)
    if (u->query == qd) return u;
  if (qd->estate == nullptr) return nullptr;  // not started: nothing can run
  // No portal runs: this is code that runs outside every statement, that is
  // deferred triggers fired by a COMMIT (a query of such a trigger reaches
  // here at depth 0, one query per trigger call).  It belongs to the
  // COMMIT, which the fallback key (statement start and transaction)
  // identifies; a unit per query would pay for every row again.
  if (ActivePortal == nullptr) return nullptr;
  auto* u = static_cast<QxtUnit*>(
      MemoryContextAllocZero(qd->estate->es_query_cxt, sizeof(QxtUnit)));
  u->id = ++g_next_unit;
  u->query = qd;
  u->end.func = query_unit_end;
  u->end.arg = u;
  MemoryContextRegisterResetCallback(qd->estate->es_query_cxt, &u->end);
  u->next = g_query_units;
  g_query_units = u;
  return u;
}

void qxt_executor_run(QueryDesc* qd, ScanDirection direction, uint64 count, bool execute_once) {
  QxtUnit* saved = g_current;
  if (g_depth == 0) g_current = unit_for_query(qd);
  ++g_depth;
  PG_TRY();
  {
    if (prev_executor_run)
      prev_executor_run(qd, direction, count, execute_once);
    else
      standard_ExecutorRun(qd, direction, count, execute_once);
  }
  PG_FINALLY();
  {
    --g_depth;
    g_current = saved;
  }
  PG_END_TRY();
}

// AFTER triggers fire here: they belong to the statement's unit.
void qxt_executor_finish(QueryDesc* qd) {
  QxtUnit* saved = g_current;
  if (g_depth == 0) g_current = unit_for_query(qd);
  ++g_depth;
  PG_TRY();
  {
    if (prev_executor_finish)
      prev_executor_finish(qd);
    else
      standard_ExecutorFinish(qd);
  }
  PG_FINALLY();
  {
    --g_depth;
    g_current = saved;
  }
  PG_END_TRY();
}

void qxt_process_utility(PlannedStmt* pstmt, const char* query_string, bool read_only_tree,
                         ProcessUtilityContext context, ParamListInfo params,
                         QueryEnvironment* query_env, DestReceiver* dest, QueryCompletion* qc) {
  auto call = [&] {
    if (prev_process_utility)
      prev_process_utility(pstmt, query_string, read_only_tree, context, params, query_env,
                           dest, qc);
    else
      standard_ProcessUtility(pstmt, query_string, read_only_tree, context, params, query_env,
                              dest, qc);
  };
  // FETCH and MOVE at top level are transparent: the cursor's query runs
  // under its own unit (unit_for_query).
  if (g_depth == 0 && pstmt->utilityStmt != nullptr && IsA(pstmt->utilityStmt, FetchStmt)) {
    call();
    return;
  }
  QxtUnit unit;
  std::memset(&unit, 0, sizeof unit);
  QxtUnit* saved = g_current;
  if (g_depth == 0) {
    unit.id = ++g_next_unit;
    g_current = &unit;
  }
  ++g_depth;
  PG_TRY();
  {
    call();
  }
  PG_FINALLY();
  {
    --g_depth;
    g_current = saved;
    delete_memo(&unit);
  }
  PG_END_TRY();
}

}  // namespace

void qxt_statement_init(void) {
  prev_executor_run = ExecutorRun_hook;
  ExecutorRun_hook = qxt_executor_run;
  prev_executor_finish = ExecutorFinish_hook;
  ExecutorFinish_hook = qxt_executor_finish;
  prev_process_utility = ProcessUtility_hook;
  ProcessUtility_hook = qxt_process_utility;
  // Loaded by a statement (LOAD, or the first call of one of our functions)
  // rather than at server or session start: that statement, and the rest of
  // its query message, began before the hooks existed.
  if (IsUnderPostmaster && IsTransactionState()) {
    g_untracked_message = true;
    g_untracked_start = GetCurrentStatementStartTimestamp();
  }
}

QxtStatement qxt_current_statement(void) {
  QxtStatement st;
  if (g_untracked_message && GetCurrentStatementStartTimestamp() != g_untracked_start)
    g_untracked_message = false;
  if (!g_untracked_message && g_current != nullptr) {
    // Unit ids are positive and never reused in a backend; negated, they
    // can never equal a statement start time (positive since 2000).
    st.start = -static_cast<int64_t>(g_current->id);
    st.lxid = 0;
    st.unit = g_current;
    return st;
  }
  st.start = GetCurrentStatementStartTimestamp();
  st.lxid = MyProc != nullptr ? MyProc->lxid : 0;
  st.unit = nullptr;
  return st;
}

int64_t* qxt_statement_spend(const QxtStatement& st) {
  if (st.unit != nullptr && st.unit == g_current) return &st.unit->spent;
  // Untracked (the message that loaded the library, or no hook ran): one
  // count per statement start, whatever COMMITs change the transaction id
  // in between (stricter than the memo's key, never looser).
  static int64_t fallback_start = 0;
  static int64_t fallback_spent = 0;
  if (fallback_start != st.start) {
    fallback_start = st.start;
    fallback_spent = 0;
  }
  return &fallback_spent;
}

qxt::StatementMemo& qxt_memo_for(const QxtStatement& st, const qxt::Settings& s) {
  const std::uint64_t fp = qxt::fingerprint(s.http.base_url, s.apikey);
  // The unit is still the current one: qxt_current_statement was called by
  // the same function call, and nothing in between ends a unit.
  if (st.unit != nullptr && st.unit == g_current &&
      -static_cast<int64_t>(st.unit->id) == st.start) {
    if (st.unit->memo == nullptr) st.unit->memo = new qxt::StatementMemo();
    st.unit->memo->enter({st.start, st.lxid, fp});
    return *st.unit->memo;
  }
  qxt::StatementMemo& memo = qxt_session_memo();
  memo.enter({st.start, st.lxid, fp});
  return memo;
}
