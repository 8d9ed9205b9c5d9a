// Per-backend state: the client and its connection pool, created on first
// use and torn down at backend exit.
//
// The exit hook is registered by the backend itself, the first time it
// prepares a core call (qxt_session_attach), never in _PG_init: with
// shared_preload_libraries, _PG_init runs in the postmaster, and a forked
// backend starts with the postmaster's exit hooks dropped
// (on_exit_reset()), so a hook registered there would never run in a
// backend.
#include "qxt_pg.hpp"

extern "C" {
#include "access/parallel.h"
}

namespace {

qxt::Client* g_client = nullptr;
qxt::StatementMemo* g_memo = nullptr;
int g_attached_pid = 0;  // the process whose exit hook is registered

void destroy_client(int, Datum) {
  qxt::Client* c = g_client;
  qxt::StatementMemo* m = g_memo;
  g_client = nullptr;
  g_memo = nullptr;
  const bool had_client = c != nullptr;
  long opened = -1;
  bool ok = true;
  try {
    if (c != nullptr) opened = c->pool().connections_opened();
    delete m;
    delete c;
  } catch (...) {
    ok = false;  // reported below, outside the handler
  }
  // Observable teardown (tests read it with log_min_messages = debug1).
  if (had_client)
    elog(DEBUG1, "qxt_portability: closed the vendor client at backend exit%s (%ld connection(s) "
                 "opened by this backend)",
         ok ? "" : " (with an error)", opened);
  else
    elog(DEBUG1, "qxt_portability: backend exit, no vendor client was open");
}

// The connection pool's descriptors count in PostgreSQL's budget of
// external file descriptors.  Neither function raises.
bool acquire_external_fd() { return AcquireExternalFD(); }
void release_external_fd() { ReleaseExternalFD(); }

}  // namespace

void qxt_session_attach(void) {
  if (g_attached_pid == MyProcPid) return;
  on_proc_exit(destroy_client, 0);
  g_attached_pid = MyProcPid;
}

qxt::Client& qxt_session_client(void) {
  if (g_client == nullptr)
    g_client = new qxt::Client(qxt::SocketBudget{acquire_external_fd, release_external_fd});
  return *g_client;
}

qxt::StatementMemo& qxt_session_memo(void) {
  if (g_memo == nullptr) g_memo = new qxt::StatementMemo();
  return *g_memo;
}

void qxt_require_vendor_encoding(void) {
  static bool checked_ok = false;
  if (checked_ok) return;
  const int enc = GetDatabaseEncoding();
  if (enc == PG_UTF8 || enc == PG_SQL_ASCII) {
    checked_ok = true;
    return;
  }
  // The vendor's vocabulary: carriers, fee types and a province-city area,
  // in UTF-8 ("湖北-宜昌 移动 联通 电信 广电 预付费 后付费").
  static const char probe[] =
      "\xe6\xb9\x96\xe5\x8c\x97-\xe5\xae\x9c\xe6\x98\x8c \xe7\xa7\xbb\xe5\x8a\xa8 "
      "\xe8\x81\x94\xe9\x80\x9a \xe7\x94\xb5\xe4\xbf\xa1 \xe5\xb9\xbf\xe7\x94\xb5 "
      "\xe9\xa2\x84\xe4\xbb\x98\xe8\xb4\xb9 \xe5\x90\x8e\xe4\xbb\x98\xe8\xb4\xb9";
  MemoryContext cxt = CurrentMemoryContext;
  volatile bool convertible = true;
  PG_TRY();
  {
    (void)pg_any_to_server(probe, static_cast<int>(sizeof probe - 1), PG_UTF8);
  }
  PG_CATCH();
  {
    // Only the conversion above can fail here; its error is replaced by ours.
    MemoryContextSwitchTo(cxt);
    FlushErrorState();
    convertible = false;
  }
  PG_END_TRY();
  if (!convertible)
    ereport(ERROR,
            (errcode(ERRCODE_UNTRANSLATABLE_CHARACTER),
             errmsg("the database encoding %s cannot hold the vendor's Chinese text",
                    GetDatabaseEncodingName()),
             errdetail("Areas and carrier names come in Chinese; nothing was sent and nothing "
                       "was charged."),
             errhint("Use a database with encoding UTF8 (or one of the Chinese encodings).")));
  checked_ok = true;
}

bool qxt_cancel_requested(void) {
  return InterruptPending && (QueryCancelPending || ProcDiePending);
}

bool qxt_terminate_requested(void) { return InterruptPending && ProcDiePending; }

void qxt_refuse_parallel_worker(const char* function) {
  if (!IsParallelWorker()) return;
  ereport(ERROR,
          (errcode(ERRCODE_INVALID_TRANSACTION_STATE),
           errmsg("%s cannot run in a parallel worker", function),
           errdetail("Each parallel worker would pay for its own lookups: a number asked by "
                     "two workers of one statement is paid twice. Nothing was sent."),
           errhint("A function that calls %s must not be declared PARALLEL SAFE "
                   "(declare it PARALLEL RESTRICTED or leave the default, PARALLEL UNSAFE).",
                   function)));
}
