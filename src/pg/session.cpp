// Per-backend state: the client and its connection pool, created on first
// use and torn down at backend exit.
#include "qxt_pg.hpp"

namespace {

qxt::Client* g_client = nullptr;

void destroy_client(int, Datum) {
  qxt::Client* c = g_client;
  g_client = nullptr;
  try {
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

bool qxt_cancel_requested(void) {
  return InterruptPending && (QueryCancelPending || ProcDiePending);
}
