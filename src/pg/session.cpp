// Per-backend state: the client and its connection pool, created on first
// use and torn down at backend exit.
#include "qxt_pg.hpp"

namespace {

qxt::Client* g_client = nullptr;
qxt::StatementMemo* g_memo = nullptr;

void destroy_client(int, Datum) {
  qxt::Client* c = g_client;
  qxt::StatementMemo* m = g_memo;
  g_client = nullptr;
  g_memo = nullptr;
  try {
    delete m;
    delete c;
  } catch (...) {
    // Nothing can be reported at backend exit.
  }
}

}  // namespace

void qxt_session_init(void) { on_proc_exit(destroy_client, 0); }

qxt::Client& qxt_session_client(void) {
  if (g_client == nullptr) g_client = new qxt::Client();
  return *g_client;
}

qxt::StatementMemo& qxt_session_memo(void) {
  if (g_memo == nullptr) g_memo = new qxt::StatementMemo();
  return *g_memo;
}

QxtStatement qxt_current_statement(void) {
  QxtStatement st;
  st.start = GetCurrentStatementStartTimestamp();
  st.lxid = MyProc != nullptr ? MyProc->lxid : 0;
  return st;
}

qxt::StatementMemo& qxt_memo_for(const QxtStatement& st, const qxt::Settings& s) {
  qxt::StatementMemo& memo = qxt_session_memo();
  memo.enter({st.start, st.lxid, qxt::fingerprint(s.http.base_url, s.apikey)});
  return memo;
}

bool qxt_cancel_requested(void) {
  return InterruptPending && (QueryCancelPending || ProcDiePending);
}
