// Declarations shared by the PostgreSQL glue, in "in X.cpp" sections.
#pragma once

#include "pg_prelude.hpp"

/* in guc.cpp */
// The qxt.* settings, one field per GUC variable: PostgreSQL's GUC machinery
// writes them (strings may be NULL).  The key (qxt.apikey, qxt.apikey_file)
// is not here: only qxt_apikey() hands it out.
struct QxtGucs {
  char* base_url = nullptr;
  char* ca_file = nullptr;
  char* proxy = nullptr;
  int timeout_ms = 10000;
  int connect_timeout_ms = 3000;
  int max_retries = 2;
  int batch_size = 1000;
  int batch_concurrency = 4;
  bool tls_verify = true;
  bool reuse_connections = true;
  int progress_interval_ms = 5000;
  int cache_max_age_s = -1;  // -1: off
  int max_inflight = 16;        // governor (preload only), per vendor account
  int max_requests_per_s = 0;   // governor token bucket; 0: unlimited
  int statement_budget = -1;    // numbers per statement unit; -1: unlimited
  int daily_budget = -1;        // numbers per role per day (preload only); -1: unlimited
};
extern QxtGucs qxt_gucs;

/* in governor.cpp */
// What the gate of one core call needs, read before it (plain data).
struct QxtGateParams {
  int max_inflight = 16;
  int max_requests_per_s = 0;
  int statement_budget = -1;
  int daily_budget = -1;
  int64_t* statement_spent = nullptr;  // the statement unit's count (statement.cpp)
  Oid role = InvalidOid;        // session user: whose daily budget
  char role_name[NAMEDATALEN] = {0};
  int32 day = 0;                // yyyymmdd in log_timezone (daily budget only)
  uint64_t account_fp = 0;      // fingerprint of the key
};
// From _PG_init: shared memory and hooks, when preloaded.
void qxt_governor_init(void);
bool qxt_governor_active(void);
// PostgreSQL part: the settings, statement, role and day for a gate.
QxtGateParams qxt_gate_params(const char* apikey);
// C++ part: the gate of one core call (gate.hpp).
std::unique_ptr<qxt::Gate> qxt_make_gate(const QxtGateParams& p);
void qxt_guc_init(void);
// What an entry point's core calls run with, read once before them (plain
// data): the settings, and the key in use, not copied (qxt_apikey()).
struct QxtGucSnapshot : QxtGucs {
  const char* apikey = "";  // never NULL ("" when unset)
  QxtGateParams gate;       // spending limits and governor (governor.cpp)
};
// PostgreSQL part: raises when the key is misconfigured (qxt_apikey()).
QxtGucSnapshot qxt_guc_snapshot(void);
// The core's Settings for a snapshot (C++ only: qxt_run_core builds it).
qxt::Settings qxt_core_settings(const QxtGucSnapshot& g);

/* in apikey.cpp */
// Defines qxt.apikey and qxt.apikey_file (from qxt_guc_init).
void qxt_apikey_guc_init(void);
// PostgreSQL part: the vendor key actually in use, "" when none is set (the
// core then raises 28000).  Read from qxt.apikey_file when that is set (read
// again whenever the file changes).  Raises F0000 when both settings are
// set, when the key file is missing, not the server user's own, open to
// group or others, or not one line of key, and when qxt.apikey comes from a
// configuration file while the library was not loaded at server or session
// start.  The returned string stays valid until the next call.
const char* qxt_apikey(void);

/* in utility_guard.cpp */
// Installs the ProcessUtility hook that refuses statements storing the key
// where others read it and masks SET qxt.apikey, and the emit_log_hook
// masking a reload's "parameter changed" line (from _PG_init).
void qxt_utility_guard_init(void);
// For qxt.apikey's check hook (SET and set_config() in a session): masks
// every occurrence of `value` in the statement text pg_stat_activity shows
// for this backend and in the texts our utility hook handed down (which
// pg_stat_statements may keep), and keeps the current statement text out
// of the server log's STATEMENT lines.  Raises 55000 inside a utility
// statement whose text a library wrapping our hook has seen unmasked.
void qxt_guard_key_value(const char* value);

/* in boundary.cpp */
// A failure copied out of C++ into plain storage, so nothing C++ is alive
// (and no catch handler is active) when PostgreSQL raises it.
struct QxtFailure {
  bool failed;
  bool cancelled;
  char sqlstate[6];
  char message[512];
  char detail[1024];
  char hint[512];
};
void qxt_failure_capture(QxtFailure* f, const qxt::Error& e) noexcept;
void qxt_failure_capture_text(QxtFailure* f, const char* what) noexcept;
// Raises `f` (never returns when f->failed): a cancel becomes PostgreSQL's
// own interrupt processing (57014, or the session ending as it intended).
void qxt_failure_raise(const QxtFailure* f);

// Runs C++ `body` so that no exception escapes: everything thrown is copied
// into `*f`, the handler is left, and only then may the caller raise.
template <typename Body>
inline void qxt_run_core(QxtFailure* f, Body&& body) noexcept {
  f->failed = false;
  f->cancelled = false;
  try {
    body();
    return;
  } catch (const qxt::QxtError& e) {
    qxt_failure_capture(f, e.error());
  } catch (const std::bad_alloc&) {
    qxt_failure_capture_text(f, "out of memory in the QXT client");
  } catch (const std::exception& e) {
    qxt_failure_capture_text(f, e.what());
  } catch (...) {
    qxt_failure_capture_text(f, "unexpected failure in the QXT client");
  }
}

// A C++ BatchJob owned by a memory context: resetting or deleting the
// context (at the end, or on any error) deletes the job put in `job`.  A
// large job's memory goes back to the system at once (malloc_trim): a
// backend lives for days, and glibc would otherwise keep tens of megabytes
// of freed heap.  PostgreSQL part: allocates in `cxt`.
struct QxtOwnedJob {
  MemoryContextCallback cb;
  qxt::BatchJob* job;
};
QxtOwnedJob* qxt_owned_job(MemoryContext cxt);

// The same for a core call: `body` gets the core Settings of snapshot `g`,
// built inside the boundary (the only copy of the key, freed with it).
template <typename Body>
inline void qxt_run_core(QxtFailure* f, const QxtGucSnapshot& g, Body&& body) noexcept {
  qxt_run_core(f, [&] {
    const std::unique_ptr<qxt::Gate> gate = qxt_make_gate(g.gate);
    qxt::Settings s = qxt_core_settings(g);
    s.http.gate = gate.get();
    const qxt::Settings& cs = s;
    body(cs);
  });
}

/* in cache.cpp */
// A row of qxt_lookups young enough to answer from (lookup_service.hpp).
using QxtCachedRow = qxt::CachedRow;
// PostgreSQL part: the rows of qxt_lookups for `keys` (0 entries ignored)
// looked up at most max_age_s seconds ago; none when max_age_s < 0.  Raises
// 42501 (with a HINT) when the caller may not read the table.  Returns none,
// with one WARNING per statement, when the table is not trusted (owner not a
// superuser, write grants to other roles, user triggers); rows that fail
// validation are left out (one WARNING per statement).  Returns the count
// and a palloc'd array in *out.
int qxt_cache_fetch(const uint64* keys, int n, int max_age_s, QxtCachedRow** out);

/* in balance.cpp */
// The account's balance from the free /balance call into *balance (true).
// PostgreSQL part: raises 28000 when no key is set, and a cancel as
// PostgreSQL's own; any other failure of the call becomes a WARNING naming
// `who`, with the vendor's text (never the key), and false.
bool qxt_balance_or_warn(const QxtGucSnapshot& g, const char* who, int64* balance);

/* in lookup.cpp */
// The elements of a text[] argument as qxt_carrier_batch reads them (and
// qxt_estimate, so that both count the same numbers): raises 2202E for more
// than one dimension (naming `function`); *n elements, *elem_nulls their
// NULL flags, and a palloc'd key per element, 0 for NULL or not a number
// (nullptr when *n is 0).
uint64* qxt_batch_keys(ArrayType* arr, const char* function, bool** elem_nulls, int* n);

/* in statement.cpp */
// Installs the executor and utility hooks that track statement units (from
// _PG_init).
void qxt_statement_init(void);
struct QxtUnit;
// Identifies the current statement unit for the memo (PostgreSQL part: call
// outside C++, in the function call that then uses qxt_memo_for).
struct QxtStatement {
  int64_t start;  // -unit id when tracked; else the statement start time
  uint32_t lxid;  // 0 when tracked; else the local transaction id
  QxtUnit* unit;  // the tracked unit, or nullptr (fallback)
};
QxtStatement qxt_current_statement(void);
// The memo of this statement unit, entered for these settings (C++ only).
qxt::StatementMemo& qxt_memo_for(const QxtStatement& st, const qxt::Settings& s);
// The count of numbers this statement unit sent in paid requests (for
// qxt.statement_budget): kept with the unit, so a cursor fetched between
// other statements keeps its own; valid while the unit runs.
int64_t* qxt_statement_spend(const QxtStatement& st);

/* in session.cpp */
// PostgreSQL part: registers this backend's exit hook (tearing the client
// down) once per process.  Called by qxt_guc_snapshot(), which every entry
// point calls before its core call.
void qxt_session_attach(void);
// The backend's client (connection pool), created on first use and torn
// down at backend exit.  C++ only: call inside qxt_run_core.
qxt::Client& qxt_session_client(void);
// The backend's per-statement memo (C++ only, inside qxt_run_core).
qxt::StatementMemo& qxt_session_memo(void);
// The cancel check handed to the core: reads PostgreSQL's interrupt flags,
// never raises.
bool qxt_cancel_requested(void);
// Whether the pending interrupt is a terminate (ProcDiePending); never raises.
bool qxt_terminate_requested(void);
// PostgreSQL part, before anything is sent: raises 25000 in a parallel
// worker.  The paid functions are PARALLEL RESTRICTED (they run in the
// leader only), but a wrapper the user declares PARALLEL SAFE runs them in
// workers, each with a statement memo of its own: one number, paid once per
// worker.
void qxt_refuse_parallel_worker(const char* function);
// PostgreSQL part, before anything is sent: raises 22P05 when the database
// encoding cannot hold the vendor's Chinese text (it would fail only after
// the lookups were paid for).  UTF8 and SQL_ASCII always can.
void qxt_require_vendor_encoding(void);
