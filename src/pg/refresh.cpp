// CALL qxt_refresh(source, max_age): a refresh job that keeps what it paid
// for, and always says how it ended.
//
// Phases (each PostgreSQL phase in an internal subtransaction, so that any
// error -- the user's query, an internal statement, a cancel -- is caught,
// the run's final state recorded and committed, and only then re-raised):
//
//   1. checks, before the run exists: top level (2D000), one run per
//      database (55P03), nobody can make a write of ours run their code (no
//      triggers on our tables, no TRIGGER grant: 42501);
//   2. the run's row ('running', committed at once) and its advisory lock,
//      which tells watchers that the run is alive;
//   3. staging: the source query runs as the caller, through a cursor
//      fetched in chunks; the numbers are normalised in C and their keys
//      stored in a temporary table; then the to-do set is built once
//      (distinct, minus numbers with a valid row younger than max_age) with
//      a primary key;
//   4. windows of qxt.batch_size x qxt.batch_concurrency numbers, read by
//      keyset pagination (no window scans or sorts the whole set): looked
//      up by the core, then stored and committed with interrupts held, so
//      an answer paid for is never lost;
//   5. the final state: done, failed, cancelled (query cancel,
//      statement_timeout or terminate, told apart), or interrupted (the
//      client went away).  A terminate or a lost client ends the backend
//      with FATAL, which no PG_CATCH sees: a before_shmem_exit callback
//      records those, in a transaction of its own, as PostgreSQL's own
//      temporary-table cleanup does.
//
// Every write of ours (qxt_refresh_runs, qxt_lookups, the temporary tables)
// is done as the extension's owner, with search_path fixed and, but for
// creating the temporary tables, inside a security-restricted operation; the
// caller needs only EXECUTE on the procedure.  The caller's own query always
// runs as the caller, with the caller's search_path.
//
// A dry run (dry_run => true) does phases 1 to 3 exactly as a real run,
// then asks the free /balance, records the run as 'estimated' (to_look_up
// is what a real run started now would send) and stops: nothing is sent to
// the paid endpoints and nothing is written to qxt_lookups.  (The source
// query still runs as the caller: a source that itself calls qxt_carrier
// pays for that, dry run or not.)
//
// Later work fits here: a spending budget caps window_size().
#include "convert.hpp"
#include "qxt_pg.hpp"
#include "spi.hpp"

extern "C" {
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "nodes/makefuncs.h"
#include "pgstat.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/timeout.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
PG_FUNCTION_INFO_V1(qxt_refresh);
// libpq/libpq.h (PostgreSQL 14+) needs GSSAPI headers through libpq-be.h;
// this is its declaration.
extern bool pq_check_connection(void);
}

namespace {

constexpr int64 kLockKey = 0x71787472656672LL;  // one run per database ("qxtrefr")
// A run's own lock: pg_advisory_lock(kRunLockKey, run_id mod 2^32), shown in
// pg_locks as classid 1903719538, objid run_id mod 2^32, objsubid 2 (the
// view qxt_refresh_progress reads it).
constexpr int32 kRunLockKey = 0x71787472;  // "qxtr" = 1903719538
constexpr long kFetchRows = 10000;          // source rows per cursor fetch

const char* const kMsgClientGone =
    "interrupted: the client disconnected; nothing was sent after that";
const char* const kMsgTerminated =
    "cancelled by a terminate (pg_terminate_backend or a server shutdown)";
// A terminate drains the requests in flight for at most this long (or
// qxt.timeout_ms when shorter): PostgreSQL expects a terminated backend to
// go soon, and the vendor answers a batch of 1000 in about 1.5 s.
constexpr long kTerminateDrainMs = 2000;

// Counters of one run (plain data).
struct RunCounts {
  int64 total = 0;      // rows the source returned
  int64 invalid = 0;    // NULL or not a mobile number (never sent)
  int64 distinct = 0;   // distinct valid numbers
  int64 fresh = 0;      // skipped: a valid row within max_age
  int64 to_do = 0;      // to look up in this run
  int64 done = 0;       // looked up (answered) so far
  int64 failed = 0;     // answered with a per-number failure (-2/-3/-4)
  int64 paid = 0;       // answered with success (what the vendor charges)
};

enum class Phase { Prepare, Windows, Finished };

// One run (plain data, in the procedure's memory context).
struct Run {
  int64 run_id = 0;
  const char* schema = nullptr;  // quoted schema of the extension
  Oid owner = InvalidOid;        // the extension's owner: our writes run as it
  const char* source = nullptr;
  Interval* max_age = nullptr;   // NULL: nothing is fresh
  bool dry_run = false;          // stop after staging: count, pay nothing
  RunCounts c;
  Phase phase = Phase::Prepare;
  char drain_note[256] = {0};    // what a cancel did to the requests in flight
  TimestampTz started = 0;
  MemoryContext cxt = nullptr;   // survives the commits of the run
  int64 last_key = 0;            // keyset position in the to-do set
  Oid stage_oid = InvalidOid;    // our temporary tables, as created
  Oid todo_oid = InvalidOid;
};

// What the exit callback needs to record a run's end (static storage: it
// runs after the transaction and its memory are gone).
struct ActiveRun {
  bool active = false;
  char drain_note[256] = {0};
  int64 run_id = 0;
  Oid owner = InvalidOid;
};
ActiveRun g_active;
bool g_exit_hook_registered = false;
bool g_run_lock_held = false;
int32 g_run_lock_key2 = 0;

// Runs one of our statements as the extension's owner (qxt_spi_execute_as),
// and raises unless SPI answers `expected`.
int exec_as_owner(Oid owner, bool restricted, const char* query, int expected, bool read_only,
                  long tcount = 0, int nargs = 0, Oid* types = nullptr, Datum* values = nullptr,
                  const char* nulls = nullptr) {
  int rc = qxt_spi_execute_as(owner, restricted, query, read_only, tcount, nargs, types, values,
                              nulls);
  if (rc != expected)
    ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                    errmsg("qxt_refresh: internal statement failed (%s)",
                           SPI_result_code_string(rc)),
                    errdetail("Statement: %s", query)));
  return rc;
}

int exec_owner(const Run& r, const char* query, int expected, int nargs = 0,
               Oid* types = nullptr, Datum* values = nullptr, const char* nulls = nullptr) {
  return exec_as_owner(r.owner, true, query, expected, false, 0, nargs, types, values, nulls);
}

void update_run(const Run& r, const char* state, const char* message) {
  const RunCounts& c = r.c;
  Oid types[10] = {INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID,
                   TEXTOID, TEXTOID};
  Datum values[10] = {Int64GetDatum(r.run_id), Int64GetDatum(c.done), Int64GetDatum(c.failed),
                      Int64GetDatum(c.paid), Int64GetDatum(c.total), Int64GetDatum(c.invalid),
                      Int64GetDatum(c.fresh), Int64GetDatum(c.to_do),
                      CStringGetTextDatum(state),
                      message ? CStringGetTextDatum(message) : (Datum)0};
  char nulls[11] = "          ";
  if (!message) nulls[9] = 'n';
  exec_owner(r,
             qxt_sql("UPDATE %s.qxt_refresh_runs SET done = $2, failed = $3, paid = $4, total = $5, "
                     "invalid = $6, fresh = $7, to_look_up = $8, state = $9, message = $10, "
                     "updated_at = pg_catalog.clock_timestamp(), "
                     "finished_at = CASE WHEN $9 OPERATOR(pg_catalog.=) 'running' THEN NULL "
                     "ELSE pg_catalog.clock_timestamp() END "
                     "WHERE run_id OPERATOR(pg_catalog.=) $1",
                     r.schema),
             SPI_OK_UPDATE, 10, types, values, nulls);
}

enum class NoticeKind { Start, Progress, Finished, Stopped };

void notice_progress(const Run& r, NoticeKind kind) {
  const RunCounts& c = r.c;
  long secs;
  int usecs;
  TimestampDifference(r.started, GetCurrentTimestamp(), &secs, &usecs);
  double elapsed = secs + usecs / 1e6;
  double rate = elapsed > 0 ? c.done / elapsed : 0;
  int64 left = c.to_do - c.done;
  switch (kind) {
    case NoticeKind::Start:
      ereport(NOTICE,
              (errmsg("qxt_refresh: %lld numbers to look up (of %lld rows: %lld invalid, "
                      "%lld duplicates, %lld skipped as fresh)",
                      (long long)c.to_do, (long long)c.total, (long long)c.invalid,
                      (long long)(c.total - c.invalid - c.distinct), (long long)c.fresh)));
      break;
    case NoticeKind::Progress:
      ereport(NOTICE,
              (errmsg("qxt_refresh: %lld of %lld looked up (%.0f %%), %lld skipped as fresh, "
                      "%lld invalid, %lld failed, %.0f numbers/s, about %.0f s left",
                      (long long)c.done, (long long)c.to_do,
                      c.to_do ? 100.0 * c.done / c.to_do : 100.0, (long long)c.fresh,
                      (long long)c.invalid, (long long)c.failed, rate,
                      rate > 0 ? left / rate : 0.0)));
      break;
    case NoticeKind::Finished:
    case NoticeKind::Stopped:
      ereport(NOTICE,
              (errmsg("qxt_refresh: %s: %lld of %lld looked up, %lld skipped as fresh, "
                      "%lld invalid, %lld failed, %lld lookups paid, in %.1f s",
                      kind == NoticeKind::Finished ? "finished" : "stopped", (long long)c.done,
                      (long long)c.to_do, (long long)c.fresh, (long long)c.invalid,
                      (long long)c.failed, (long long)c.paid, elapsed),
               kind == NoticeKind::Stopped
                   ? errhint("Everything looked up so far is kept in qxt_lookups; the next run "
                             "resumes with the rest.")
                   : 0));
      break;
  }
}

// ---------------------------------------------------------------------------
// Final states
// ---------------------------------------------------------------------------

// Commits and starts the run's next transaction with the characteristics
// of the one that ends (COMMIT AND CHAIN), that is, those of the CALL's own
// transaction.  A plain commit would start it with the session's defaults,
// which the source query (the caller's code) may have changed meanwhile:
// with set_config('default_transaction_read_only', 'on', false) every
// window was paid for, then could not be stored, and not even its final
// state recorded.
void commit_run(void) { SPI_commit_and_chain(); }

// Records the run's final state and commits it.  The caller holds
// interrupts.  A failure to record (it should not happen) becomes a WARNING,
// so that it never hides the error being reported.
void record_final(Run& r, const char* state, const char* message) {
  MemoryContext oldcxt = CurrentMemoryContext;
  ResourceOwner oldowner = CurrentResourceOwner;
  BeginInternalSubTransaction(nullptr);
  MemoryContextSwitchTo(oldcxt);
  PG_TRY();
  {
    update_run(r, state, message);
    ReleaseCurrentSubTransaction();
  }
  PG_CATCH();
  {
    MemoryContextSwitchTo(r.cxt);
    ErrorData* e = CopyErrorData();
    FlushErrorState();
    RollbackAndReleaseCurrentSubTransaction();
    ereport(WARNING, (errmsg("qxt_refresh: could not record the end of run %lld: %s",
                             (long long)r.run_id, e->message)));
  }
  PG_END_TRY();
  MemoryContextSwitchTo(oldcxt);
  CurrentResourceOwner = oldowner;
  commit_run();
  r.phase = Phase::Finished;
  g_active.active = false;
}

// The final state for an error caught in a phase: a cancel says which one,
// anything else is a failure with the error's message.
void record_error(Run& r, const ErrorData* e) {
  if (e->sqlerrcode == ERRCODE_QUERY_CANCELED) {
    const char* why;
    char buf[160];
    if (e->message_id != nullptr &&
        std::strcmp(e->message_id, "canceling statement due to statement timeout") == 0) {
      snprintf(buf, sizeof buf, "cancelled by statement_timeout (%d ms)", StatementTimeout);
      why = buf;
    } else if (e->message_id != nullptr &&
               std::strcmp(e->message_id, "canceling statement due to user request") == 0) {
      why = "cancelled by a query cancel (pg_cancel_backend or Ctrl-C)";
    } else {
      why = e->message;
    }
    record_final(r, "cancelled", psprintf("%s%s", why, r.drain_note));
  } else {
    record_final(r, "failed", e->message);
  }
}

// Runs `fn` in an internal subtransaction, as PL/pgSQL runs a block with an
// EXCEPTION clause.  Returns nullptr, or the error it raised: then the
// subtransaction is rolled back (which also restores the caller's identity)
// and interrupts are held (one more HOLD_INTERRUPTS, which fail_phase gives
// back), so that nothing strikes before the final state is committed.
using PhaseFn = void (*)(Run& r, void* arg);
ErrorData* attempt_phase(Run& r, PhaseFn fn, void* arg) {
  MemoryContext oldcxt = CurrentMemoryContext;
  ResourceOwner oldowner = CurrentResourceOwner;
  // errfinish() resets the holdoff count: note it, to restore it on error.
  const uint32 holdoff = InterruptHoldoffCount;
  ErrorData* volatile caught = nullptr;
  BeginInternalSubTransaction(nullptr);
  MemoryContextSwitchTo(oldcxt);
  PG_TRY();
  {
    fn(r, arg);
    ReleaseCurrentSubTransaction();
    MemoryContextSwitchTo(oldcxt);
    CurrentResourceOwner = oldowner;
  }
  PG_CATCH();
  {
    InterruptHoldoffCount = holdoff + 1;
    MemoryContextSwitchTo(r.cxt);
    caught = CopyErrorData();
    FlushErrorState();
    RollbackAndReleaseCurrentSubTransaction();
    MemoryContextSwitchTo(oldcxt);
    CurrentResourceOwner = oldowner;
  }
  PG_END_TRY();
  return caught;
}

// A phase failed: record the run's final state, commit it, raise the error.
void fail_phase(Run& r, ErrorData* caught) {
  const bool looking_up = r.phase == Phase::Windows;
  record_error(r, caught);
  if (looking_up) notice_progress(r, NoticeKind::Stopped);
  RESUME_INTERRUPTS();
  ReThrowError(caught);
}

void run_phase(Run& r, PhaseFn fn, void* arg) {
  ErrorData* caught = attempt_phase(r, fn, arg);
  if (caught != nullptr) fail_phase(r, caught);
}

// A pending cancel or terminate, set aside while answers are stored.
// PostgreSQL's regular-expression engine gives up when one is pending, even
// while interrupts are held (rcancelrequested() reads the flags, not the
// holdoff), and qxt_lookups checks mobile with a regular expression: a
// cancel arriving while a window's answers were stored made the store fail,
// and the paid answers were lost.  So the flags are cleared for the store,
// which starts over if a new one makes it fail, and given back after the
// commit, where PostgreSQL acts on them as usual.
struct PendingInterrupts {
  bool cancel = false;
  bool die = false;
};
bool set_aside(PendingInterrupts& p) {
  const bool any = QueryCancelPending || ProcDiePending;
  if (QueryCancelPending) {
    p.cancel = true;
    QueryCancelPending = false;
  }
  if (ProcDiePending) {
    p.die = true;
    ProcDiePending = false;
  }
  return any;
}
void give_back(const PendingInterrupts& p) {
  if (p.cancel) QueryCancelPending = true;
  if (p.die) ProcDiePending = true;
  if (p.cancel || p.die) InterruptPending = true;
}

// What a cancel did to the requests in flight, for the run's message ("" when
// none was in flight).
void note_drain(char* out, std::size_t cap, const qxt::BatchCancelReport& d) {
  out[0] = '\0';
  if (!d.cancelled || d.in_flight == 0) return;
  const bool one = d.in_flight == 1;
  const char* all = one ? "the request" : psprintf("the %zu requests", d.in_flight);
  if (d.answered == d.in_flight) {
    snprintf(out, cap, "; %s in flight %s waited for and %s answers kept", all,
             one ? "was" : "were", one ? "its" : "their");
    return;
  }
  if (d.unanswered == d.in_flight) {
    snprintf(out, cap,
             "; %s in flight got no answer and %s abandoned (the vendor may have charged %s)",
             all, one ? "was" : "were", one ? "it" : "them");
    return;
  }
  // Some of each: what became of them, zero parts left out.
  StringInfoData b;
  initStringInfo(&b);
  appendStringInfo(&b, "; of the %zu request%s in flight:", d.in_flight, one ? "" : "s");
  const char* sep = " ";
  if (d.answered > 0) {
    appendStringInfo(&b, "%s%zu answered and kept", sep, d.answered);
    sep = ", ";
  }
  if (d.refused > 0) {
    appendStringInfo(&b, "%s%zu refused by the vendor (not charged)", sep, d.refused);
    sep = ", ";
  }
  if (d.unanswered > 0)
    appendStringInfo(&b, "%s%zu abandoned without an answer (the vendor may have charged %s)",
                     sep, d.unanswered, d.unanswered == 1 ? "it" : "them");
  strlcpy(out, b.data, cap);
  pfree(b.data);
}

// Backend exit while a run is active (FATAL: a terminate, a lost client, or
// another fatal error).  PostgreSQL's RemoveTempRelationsCallback shows the
// pattern: abort whatever is left, then a transaction of our own.
void refresh_at_exit(int code, Datum arg) {
  if (!g_active.active) return;
  g_active.active = false;
  static char message[256];
  const char* state = "interrupted";
  strlcpy(message, "interrupted: the session ended with a FATAL error (see the server log)",
          sizeof message);
  if (pgStatSessionEndCause == DISCONNECT_KILLED) {
    state = "cancelled";
    snprintf(message, sizeof message, "%s%s", kMsgTerminated, g_active.drain_note);
  } else if (ClientConnectionLost) {
    strlcpy(message, kMsgClientGone, sizeof message);
  }
  AbortOutOfAnyTransaction();
  StartTransactionCommand();
  // The session's defaults must not make this transaction read-only or
  // make it wait for a safe snapshot.
  XactReadOnly = false;
  XactIsoLevel = XACT_READ_COMMITTED;
  XactDeferrable = false;
  // An outer snapshot of our own: SPI would otherwise attach one to
  // ActivePortal, which still names the CALL's portal, gone with the abort.
  PushActiveSnapshot(GetTransactionSnapshot());
  if (SPI_connect() == SPI_OK_CONNECT) {
    Oid types[3] = {INT8OID, TEXTOID, TEXTOID};
    Datum values[3] = {Int64GetDatum(g_active.run_id), CStringGetTextDatum(state),
                       CStringGetTextDatum(message)};
    exec_as_owner(g_active.owner, true,
                  qxt_sql("UPDATE %s.qxt_refresh_runs SET state = $2, message = $3, "
                          "updated_at = pg_catalog.clock_timestamp(), "
                          "finished_at = pg_catalog.clock_timestamp() "
                          "WHERE run_id OPERATOR(pg_catalog.=) $1 "
                          "AND state OPERATOR(pg_catalog.=) 'running'",
                          qxt_extension_schema()),
                  SPI_OK_UPDATE, false, 0, 3, types, values, nullptr);
    SPI_finish();
  }
  PopActiveSnapshot();
  CommitTransactionCommand();
}

// The client's connection is gone (PostgreSQL 14+ can tell without reading
// from it): record it, commit, and end the session as PostgreSQL does when
// client_connection_check_interval finds a lost client.  Nothing paid is
// lost: every window so far is committed.
bool client_gone(void) {
  return MyProcPort != nullptr && whereToSendOutput == DestRemote && !pq_check_connection();
}

void stop_for_lost_client(Run& r) {
  HOLD_INTERRUPTS();
  record_final(r, "interrupted", kMsgClientGone);
  RESUME_INTERRUPTS();
  ClientConnectionLost = 1;
  InterruptPending = 1;
  CHECK_FOR_INTERRUPTS();  // FATAL: connection to client lost
}

// ---------------------------------------------------------------------------
// Phase 3: staging and the to-do set
// ---------------------------------------------------------------------------

// Drops a temporary table of ours if this session has one (quietly: no
// "does not exist" NOTICE in the user's output).
void drop_temp(const Run& r, const char* name) {
  exec_as_owner(r.owner, true, qxt_sql("SELECT pg_catalog.to_regclass('pg_temp.%s') IS NOT NULL", name),
                SPI_OK_SELECT, true);
  bool isnull;
  bool exists = DatumGetBool(
      SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
  if (exists) exec_owner(r, qxt_sql("DROP TABLE pg_temp.%s", name), SPI_OK_UTILITY);
}

// Raises 42804 unless the source's result is exactly one column of a text
// type (text, varchar, char, name, or a domain over one of them).
Oid check_source_shape(TupleDesc td) {
  const char* hint =
      "Return the numbers as one text column, casting if needed, e.g. "
      "CALL qxt_refresh('SELECT phone::text FROM customers');";
  if (td == nullptr || td->natts != 1)
    ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
                    errmsg("the source query of qxt_refresh must return one text column of "
                           "phone numbers; it returns %d columns",
                           td ? td->natts : 0),
                    errhint("%s", hint)));
  Form_pg_attribute att = TupleDescAttr(td, 0);
  Oid base = getBaseType(att->atttypid);
  if (base != TEXTOID && base != VARCHAROID && base != BPCHAROID && base != NAMEOID)
    ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
                    errmsg("the source query of qxt_refresh must return one text column of "
                           "phone numbers; its column \"%s\" is of type %s",
                           NameStr(att->attname), format_type_be(att->atttypid)),
                    errhint("%s", hint)));
  return base;
}

// The key of one source value, or 0 when it cannot be a mobile number.
uint64 key_of(Datum d, Oid base) {
  return qxt_mobile_key(base == NAMEOID ? std::string_view(NameStr(*DatumGetName(d)))
                                        : qxt_text_view(DatumGetTextPP(d)));
}

Oid temp_table_oid(const char* name) {
  return RangeVarGetRelid(makeRangeVar(pstrdup("pg_temp"), pstrdup(name), -1), NoLock, true);
}

// The caller's query runs between our writes to the temporary tables, and
// could have dropped them (DISCARD TEMP) and put tables of its own, with
// triggers, in their place: a write of ours would then run its code as the
// owner.  So before each such write: are they still the ones we created?
void check_temp_tables(const Run& r) {
  if (temp_table_oid("qxt_refresh_stage") != r.stage_oid ||
      temp_table_oid("qxt_refresh_todo") != r.todo_oid)
    ereport(ERROR,
            (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
             errmsg("qxt_refresh: its temporary tables were dropped or replaced while the "
                    "source query ran"),
             errdetail("qxt_refresh writes them as the extension's owner, so it writes only the "
                       "tables it created. Nothing was sent and nothing was charged."),
             errhint("The source query must not drop temporary tables (DISCARD TEMP).")));
}

// Whether this session holds an advisory lock (as pg_advisory_lock takes
// them: ExclusiveLock; field 4 is 1 for the int8 form, 2 for two int4s).
bool advisory_held(uint32 key1, uint32 key2, uint16 form) {
  LOCKTAG tag;
  SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, key1, key2, form);
  return LockHeldByMe(&tag, ExclusiveLock);
}
bool global_lock_held(void) {
  return advisory_held(static_cast<uint32>(kLockKey >> 32), static_cast<uint32>(kLockKey), 1);
}
bool run_lock_held(void) {
  return advisory_held(static_cast<uint32>(kRunLockKey), static_cast<uint32>(g_run_lock_key2), 2);
}

// The caller's query could also have released this session's advisory locks
// (pg_advisory_unlock_all): take back any that is gone, or stop if another
// session has taken it meanwhile.
void check_locks(const Run& r) {
  bool ok = true;
  if (!global_lock_held())
    ok = DatumGetBool(DirectFunctionCall1(pg_try_advisory_lock_int8, Int64GetDatum(kLockKey)));
  if (ok && !run_lock_held())
    ok = DatumGetBool(DirectFunctionCall2(pg_try_advisory_lock_int4, Int32GetDatum(kRunLockKey),
                                          Int32GetDatum(g_run_lock_key2)));
  if (!ok)
    ereport(ERROR, (errcode(ERRCODE_LOCK_NOT_AVAILABLE),
                    errmsg("qxt_refresh: this run's advisory locks were released while the "
                           "source query ran, and another session holds them now"),
                    errdetail("Two runs at once could pay twice for the same numbers. Nothing "
                              "was sent and nothing was charged.")));
}

// Creates the run's two temporary tables.
void create_temp_tables(Run& r) {
  // The temporary tables belong to the extension's owner, so the caller's
  // code (the source query runs in between) can neither read, change nor
  // put a trigger on them; only creating them runs outside a
  // security-restricted operation.
  drop_temp(r, "qxt_refresh_stage");
  drop_temp(r, "qxt_refresh_todo");
  exec_as_owner(r.owner, false,
                "CREATE TEMP TABLE pg_temp.qxt_refresh_stage (k pg_catalog.int8 NOT NULL)",
                SPI_OK_UTILITY, false);
  exec_as_owner(r.owner, false,
                "CREATE TEMP TABLE pg_temp.qxt_refresh_todo (k pg_catalog.int8 PRIMARY KEY)",
                SPI_OK_UTILITY, false);
  r.stage_oid = temp_table_oid("qxt_refresh_stage");
  r.todo_oid = temp_table_oid("qxt_refresh_todo");
}

// Runs the source query and stages the keys of its numbers (r.c.total,
// r.c.invalid counted).
void stage_source(Run& r) {
  // The source query: as the caller, with the caller's search_path, read
  // through a cursor in chunks (bounded memory at any size).
  SPIPlanPtr plan = SPI_prepare_cursor(r.source, 0, nullptr, CURSOR_OPT_NO_SCROLL);
  if (plan == nullptr)
    ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                    errmsg("qxt_refresh: could not prepare the source query (%s)",
                           SPI_result_code_string(SPI_result))));
  if (!SPI_is_cursor_plan(plan))
    ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
                    errmsg("the source query of qxt_refresh must be one query returning one "
                           "text column of phone numbers"),
                    errhint("Example: CALL qxt_refresh('SELECT phone::text FROM customers');")));
  Portal cursor = SPI_cursor_open(nullptr, plan, nullptr, nullptr, false);
  const Oid base = check_source_shape(cursor->tupDesc);

  MemoryContext chunkcxt =
      AllocSetContextCreate(CurrentMemoryContext, "qxt_refresh staging", ALLOCSET_DEFAULT_SIZES);
  const char* insert_keys =
      "INSERT INTO pg_temp.qxt_refresh_stage (k) SELECT pg_catalog.unnest($1)";
  for (;;) {
    SPI_cursor_fetch(cursor, true, kFetchRows);
    const uint64 n = SPI_processed;
    if (n == 0) break;
    MemoryContext old = MemoryContextSwitchTo(chunkcxt);
    Datum* keys = static_cast<Datum*>(palloc(sizeof(Datum) * n));
    int m = 0;
    for (uint64 i = 0; i < n; ++i) {
      bool isnull;
      Datum d = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);
      uint64 key = isnull ? 0 : key_of(d, base);
      if (key == 0) {
        ++r.c.invalid;
        continue;
      }
      keys[m++] = Int64GetDatum(static_cast<int64>(key));
    }
    r.c.total += static_cast<int64>(n);
    SPI_freetuptable(SPI_tuptable);
    if (m > 0) {
      Oid types[1] = {INT8ARRAYOID};
      Datum values[1] = {PointerGetDatum(
          construct_array(keys, m, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE))};
      check_temp_tables(r);
      exec_owner(r, insert_keys, SPI_OK_INSERT, 1, types, values, nullptr);
    }
    MemoryContextSwitchTo(old);
    MemoryContextReset(chunkcxt);
  }
  SPI_cursor_close(cursor);
  MemoryContextDelete(chunkcxt);
}

// Builds the to-do set from the staged keys (r.c.distinct, to_do, fresh).
void build_todo(Run& r) {
  // The to-do set, built once: the distinct numbers without a valid row
  // (as the cache reads it: a per-number code, not in the future) younger
  // than max_age.  Inserted in key order, so the primary key fills
  // sequentially; windows then walk it by key.
  exec_owner(r, "ANALYZE pg_temp.qxt_refresh_stage", SPI_OK_UTILITY);
  Oid types[1] = {INTERVALOID};
  Datum values[1] = {r.max_age ? IntervalPGetDatum(r.max_age) : (Datum)0};
  char nulls[2] = {r.max_age ? ' ' : 'n', '\0'};
  exec_owner(r,
             qxt_sql("WITH d AS MATERIALIZED (SELECT DISTINCT s.k FROM pg_temp.qxt_refresh_stage s), "
                     "ins AS (INSERT INTO pg_temp.qxt_refresh_todo (k) "
                     "  SELECT d.k FROM d WHERE NOT EXISTS ("
                     "    SELECT FROM %s.qxt_lookups l "
                     "    WHERE l.mobile OPERATOR(pg_catalog.=) d.k::pg_catalog.text "
                     "      AND l.code OPERATOR(pg_catalog.=) ANY ('{0,-2,-3,-4}'::pg_catalog.int4[]) "
                     "      AND l.looked_up_at OPERATOR(pg_catalog.<=) pg_catalog.now() "
                     "      AND l.looked_up_at OPERATOR(pg_catalog.>) "
                     "          (pg_catalog.now() OPERATOR(pg_catalog.-) $1)) "
                     "  ORDER BY d.k RETURNING 1) "
                     "SELECT (SELECT pg_catalog.count(*) FROM d), (SELECT pg_catalog.count(*) FROM ins)",
                     r.schema),
             SPI_OK_SELECT, 1, types, values, nulls);
  r.c.distinct = qxt_spi_int8(0, 1);
  r.c.to_do = qxt_spi_int8(0, 2);
  r.c.fresh = r.c.distinct - r.c.to_do;
  exec_owner(r, "DROP TABLE pg_temp.qxt_refresh_stage", SPI_OK_UTILITY);
  exec_owner(r, "ANALYZE pg_temp.qxt_refresh_todo", SPI_OK_UTILITY);
}

void phase_prepare(Run& r, void*) {
  create_temp_tables(r);
  stage_source(r);
  // No code of the caller's runs after this point.
  check_temp_tables(r);
  check_locks(r);
  build_todo(r);
  update_run(r, "running", nullptr);
}

// ---------------------------------------------------------------------------
// Phase 4: windows
// ---------------------------------------------------------------------------

// Numbers per window.  (A spending budget would cap this.)
int64 window_size(const QxtGucSnapshot& g) {
  return static_cast<int64>(g.batch_size) * g.batch_concurrency;
}

struct Window {
  int64 size = 0;              // wanted
  int n = 0;                   // got
  std::uint64_t* keys = nullptr;
  MemoryContext cxt = nullptr;
};

void phase_check_interrupts(Run&, void*) { CHECK_FOR_INTERRUPTS(); }

void phase_settings(Run&, void* arg) { *static_cast<QxtGucSnapshot*>(arg) = qxt_guc_snapshot(); }

// The next window of the to-do set, after the last key (keyset pagination
// on the primary key: each window reads only its own rows).
void phase_next_window(Run& r, void* arg) {
  auto* w = static_cast<Window*>(arg);
  Oid types[2] = {INT8OID, INT8OID};
  Datum values[2] = {Int64GetDatum(r.last_key), Int64GetDatum(w->size)};
  exec_as_owner(r.owner, true,
                "SELECT t.k FROM pg_temp.qxt_refresh_todo t WHERE t.k OPERATOR(pg_catalog.>) $1 "
                "ORDER BY t.k LIMIT $2",
                SPI_OK_SELECT, true, 0, 2, types, values, nullptr);
  w->n = static_cast<int>(SPI_processed);
  w->keys = static_cast<std::uint64_t*>(
      MemoryContextAlloc(w->cxt, sizeof(std::uint64_t) * (w->n + 1)));
  for (int i = 0; i < w->n; ++i) w->keys[i] = static_cast<std::uint64_t>(qxt_spi_int8(i, 1));
  if (w->n > 0) r.last_key = static_cast<int64>(w->keys[w->n - 1]);
  SPI_freetuptable(SPI_tuptable);
}

struct Store {
  const qxt::BatchJob* job;    // nullptr when the core failed before creating it
  const Window* w;
  const QxtFailure* failure;
  RunCounts before;            // the run's counts before this window
  RunCounts charged;           // out: with this window's answers counted as paid
  RunCounts after;             // out: ... and as kept (when the store succeeded)
};

// The answers of one window worth keeping, as the upsert's arrays.
struct Answers {
  int m = 0;
  Datum *mob, *res, *area, *init, *now, *code;
  bool *res_null, *area_null, *init_null, *now_null;
};

// Collects the answers of `job` for keys[0..n) worth keeping into `a`
// (palloc'd), counting each in c.paid or c.failed.
void collect_answers(const qxt::BatchJob* job, const std::uint64_t* keys, int n, RunCounts& c,
                     Answers& a) {
  a.mob = static_cast<Datum*>(palloc(sizeof(Datum) * n));
  a.res = static_cast<Datum*>(palloc(sizeof(Datum) * n));
  a.area = static_cast<Datum*>(palloc(sizeof(Datum) * n));
  a.init = static_cast<Datum*>(palloc(sizeof(Datum) * n));
  a.now = static_cast<Datum*>(palloc(sizeof(Datum) * n));
  a.code = static_cast<Datum*>(palloc(sizeof(Datum) * n));
  a.res_null = static_cast<bool*>(palloc(n));
  a.area_null = static_cast<bool*>(palloc(n));
  a.init_null = static_cast<bool*>(palloc(n));
  a.now_null = static_cast<bool*>(palloc(n));
  int& m = a.m;
  for (int i = 0; i < n; ++i) {
    const qxt::CompactResult* cr = job->result_for(keys[i]);
    // Not answered, or an account-level or request-level code: nothing to
    // keep (and nothing was charged for it).
    if (cr == nullptr || cr->code == qxt::CompactResult::kNotAsked) continue;
    if (!qxt::StatementMemo::memorable(cr->code)) continue;
    a.mob[m] = qxt_key_text(keys[i]);
    a.code[m] = Int32GetDatum(cr->code);
    bool ok = cr->code == 0;
    a.res[m] = Int16GetDatum(cr->res);
    a.res_null[m] = !ok || cr->res < 0;
    const std::uint32_t ids[3] = {cr->area, cr->init_isp, cr->now_isp};
    Datum* outs[3] = {a.area, a.init, a.now};
    bool* outn[3] = {a.area_null, a.init_null, a.now_null};
    for (int f = 0; f < 3; ++f) {
      outn[f][m] = !ok || ids[f] == 0;
      if (!outn[f][m]) {
        std::string_view sv = job->text(ids[f]);
        outs[f][m] = qxt_vendor_text(sv.data(), sv.size());
      } else {
        outs[f][m] = (Datum)0;
      }
    }
    if (ok) ++c.paid;
    else ++c.failed;
    ++m;
  }
}

// Upserts the collected answers (a.m > 0) into qxt_lookups.
void upsert_answers(const Run& r, const Answers& a) {
  int dims[1] = {a.m};
  int lbs[1] = {1};
  Oid types[6] = {TEXTARRAYOID, INT2ARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID,
                  INT4ARRAYOID};
  Datum values[6] = {
      PointerGetDatum(construct_md_array(a.mob, nullptr, 1, dims, lbs, TEXTOID, -1, false, TYPALIGN_INT)),
      PointerGetDatum(construct_md_array(a.res, a.res_null, 1, dims, lbs, INT2OID, 2, true, TYPALIGN_SHORT)),
      PointerGetDatum(construct_md_array(a.area, a.area_null, 1, dims, lbs, TEXTOID, -1, false, TYPALIGN_INT)),
      PointerGetDatum(construct_md_array(a.init, a.init_null, 1, dims, lbs, TEXTOID, -1, false, TYPALIGN_INT)),
      PointerGetDatum(construct_md_array(a.now, a.now_null, 1, dims, lbs, TEXTOID, -1, false, TYPALIGN_INT)),
      PointerGetDatum(construct_md_array(a.code, nullptr, 1, dims, lbs, INT4OID, 4, true, TYPALIGN_INT)),
  };
  exec_owner(r,
             qxt_sql("INSERT INTO %s.qxt_lookups AS l (mobile, res, area, init_isp, now_isp, "
                     "code, looked_up_at) "
                     "SELECT u.mobile, u.res, u.area, u.init_isp, u.now_isp, u.code, "
                     "pg_catalog.clock_timestamp() "
                     "FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), "
                     "pg_catalog.unnest($3), pg_catalog.unnest($4), pg_catalog.unnest($5), "
                     "pg_catalog.unnest($6)) AS u(mobile, res, area, init_isp, now_isp, code) "
                     "ON CONFLICT (mobile) DO UPDATE SET res = excluded.res, "
                     "area = excluded.area, init_isp = excluded.init_isp, "
                     "now_isp = excluded.now_isp, code = excluded.code, "
                     "looked_up_at = excluded.looked_up_at",
                     r.schema),
             SPI_OK_INSERT, 6, types, values, nullptr);
}

// Upserts the answers of one window and the run's counters (one commit).
// A vendor failure is the final state, committed with the answers before it.
void phase_store(Run& r, void* arg) {
  auto* st = static_cast<Store*>(arg);
  // The counts are worked out on a copy: this phase may be run again.
  Run view = r;
  RunCounts& c = view.c;
  c = st->before;
  Answers a;
  if (st->job != nullptr && st->w->n > 0) {
    collect_answers(st->job, st->w->keys, st->w->n, c, a);
    if (a.m > 0) upsert_answers(r, a);
  }
  st->charged = c;
  c.done += a.m;
  const QxtFailure* f = st->failure;
  if (f->failed && !f->cancelled)
    update_run(view, "failed", f->message);
  else
    update_run(view, "running", nullptr);
  st->after = c;
}

// The core stopped for a cancel: let PostgreSQL act on the flags (57014,
// caught by run_phase and recorded; or FATAL for a terminate, recorded by
// the exit callback).
void phase_raise_cancel(Run&, void* arg) { qxt_failure_raise(static_cast<const QxtFailure*>(arg)); }

void phase_done(Run& r, void*) {
  update_run(r, "done", nullptr);
  drop_temp(r, "qxt_refresh_todo");
}

// ---------------------------------------------------------------------------
// Phases 1-2: checks and the run's row
// ---------------------------------------------------------------------------

// The extension's schema and owner; raises 42501 when a write of ours as the
// owner could run someone else's code: a user trigger on qxt_lookups or
// qxt_refresh_runs, or a TRIGGER grant to a role other than the owner.
void check_tables(Run& r) {
  int rc = qxt_spi_execute(
      "SELECT e.extowner, pg_catalog.quote_ident(n.nspname), "
      "  (SELECT pg_catalog.string_agg(c.relname::pg_catalog.text, ', ' ORDER BY c.relname) "
      "   FROM pg_catalog.pg_class c "
      "   WHERE c.relnamespace OPERATOR(pg_catalog.=) n.oid "
      "     AND c.relname OPERATOR(pg_catalog.=) ANY "
      "         ('{qxt_lookups,qxt_refresh_runs}'::pg_catalog.name[]) "
      "     AND (EXISTS (SELECT FROM pg_catalog.pg_trigger t "
      "                  WHERE t.tgrelid OPERATOR(pg_catalog.=) c.oid AND NOT t.tgisinternal) "
      "          OR EXISTS (SELECT FROM pg_catalog.aclexplode(c.relacl) a "
      "                     WHERE a.privilege_type OPERATOR(pg_catalog.=) 'TRIGGER' "
      "                       AND a.grantee OPERATOR(pg_catalog.<>) c.relowner))) "
      "FROM pg_catalog.pg_extension e "
      "JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace "
      "WHERE e.extname OPERATOR(pg_catalog.=) 'qxt_portability'",
      true, 0);
  if (rc != SPI_OK_SELECT || SPI_processed != 1)
    ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT),
                    errmsg("extension qxt_portability is not installed in this database")));
  bool isnull;
  r.owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
  r.schema = MemoryContextStrdup(r.cxt, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2));
  char* unsafe = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
  if (unsafe != nullptr)
    ereport(ERROR,
            (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
             errmsg("qxt_refresh refuses to run: %s has a user trigger or grants TRIGGER", unsafe),
             errdetail("qxt_refresh writes these tables as the extension's owner; a trigger "
                       "would run with the owner's rights. Nothing was sent and nothing was "
                       "charged."),
             errhint("Drop the trigger, or REVOKE TRIGGER from the roles other than the owner.")));
}

void start_run(Run& r) {
  // A run of this session that ended keeps its lock until the next one (so
  // a watcher never sees a finished run without its final state); release it.
  if (g_run_lock_held) {
    if (run_lock_held())
      DirectFunctionCall2(pg_advisory_unlock_int4, Int32GetDatum(kRunLockKey),
                          Int32GetDatum(g_run_lock_key2));
    g_run_lock_held = false;
  }
  check_tables(r);
  // Runs whose session died without a final state (killed, or a crash).
  exec_owner(r,
             qxt_sql("UPDATE %s.qxt_refresh_runs r SET state = 'interrupted', "
                     "message = 'interrupted: its session ended without recording a final state "
                     "(the backend was killed or the server stopped)', "
                     "updated_at = pg_catalog.clock_timestamp(), "
                     "finished_at = pg_catalog.clock_timestamp() "
                     "WHERE r.state OPERATOR(pg_catalog.=) 'running' AND r.run_id IN "
                     "(SELECT p.run_id FROM %s.qxt_refresh_progress p "
                     " WHERE p.state OPERATOR(pg_catalog.=) 'interrupted')",
                     r.schema, r.schema),
             SPI_OK_UPDATE);
  Oid types[2] = {TEXTOID, NAMEOID};
  Datum values[2] = {CStringGetTextDatum(r.source),
                     DirectFunctionCall1(namein, CStringGetDatum(GetUserNameFromId(GetUserId(), false)))};
  exec_owner(r,
             qxt_sql("INSERT INTO %s.qxt_refresh_runs (source, state, run_by) "
                     "VALUES ($1, 'running', $2) RETURNING run_id",
                     r.schema),
             SPI_OK_INSERT_RETURNING, 2, types, values, nullptr);
  r.run_id = qxt_spi_int8(0, 1);
  // The run's lock, before its row becomes visible: while the row says
  // 'running', the lock says whether the run is alive.
  const int32 key2 = static_cast<int32>(static_cast<uint32>(r.run_id & 0xffffffff));
  if (!DatumGetBool(DirectFunctionCall2(pg_try_advisory_lock_int4, Int32GetDatum(kRunLockKey),
                                        Int32GetDatum(key2))))
    ereport(ERROR, (errcode(ERRCODE_LOCK_NOT_AVAILABLE),
                    errmsg("qxt_refresh: the advisory lock (%d, %d) of run %lld is taken by "
                           "another session",
                           kRunLockKey, key2, (long long)r.run_id),
                    errhint("Another application uses this advisory lock key; qxt_refresh "
                            "needs it to show that the run is alive.")));
  g_run_lock_held = true;
  g_run_lock_key2 = key2;
}

// Connects, creates the run (its row committed, its lock taken): from then
// on, every way out records how the run ended.
void open_run(Run& r) {
  qxt_spi_connect(SPI_OPT_NONATOMIC, "qxt_refresh");
  r.cxt = CurrentMemoryContext;  // SPI's procedure context: lives until the CALL ends
  qxt_require_vendor_encoding();
  if (!g_exit_hook_registered) {
    before_shmem_exit(refresh_at_exit, 0);
    g_exit_hook_registered = true;
  }

  start_run(r);
  commit_run();
  // From here on, the run exists: every way out records how it ended.
  g_active.active = true;
  g_active.drain_note[0] = '\0';
  g_active.run_id = r.run_id;
  g_active.owner = r.owner;
  r.started = GetCurrentTimestamp();
}

// Asks the vendor for one window, inside the boundary: the job goes into
// `owned`, a failure into `failure`, what a cancel did into `drain`.
void ask_window(const QxtGucSnapshot& g, const Window& w, QxtOwnedJob* owned,
                QxtFailure* failure, qxt::BatchCancelReport* drain) {
  // A cancel (or statement_timeout, or terminate) drains the requests
  // in flight: none is started after it, those already sent are waited
  // for (at most qxt.timeout_ms after it; a terminate, at most
  // kTerminateDrainMs), and their answers are stored below like any
  // other.  Abandoning them would lose answers the vendor charges, and
  // the rerun would pay for them again.
  // The CALL is one statement: numbers its source query (or the code
  // around the CALL) already paid for in it are taken from the
  // statement's memo, stored, and not paid for again.
  const QxtStatement stmt = qxt_current_statement();
  qxt_run_core(failure, g, [&](const qxt::Settings& s) {
    const qxt::KnownAnswers known(&qxt_memo_for(stmt, s), nullptr, 0);
    auto* job = new qxt::BatchJob(w.keys, static_cast<std::size_t>(w.n), s.batch_size,
                                  std::cref(known));
    owned->job = job;
    qxt::CancelPolicy policy;
    policy.cancel = qxt_cancel_requested;
    policy.drain_ms = g.timeout_ms;
    policy.urgent = qxt_terminate_requested;
    policy.urgent_ms = std::min<long>(g.timeout_ms, kTerminateDrainMs);
    qxt_session_client().batch(s, *job, policy, drain);
  });
}

// Stores a window's answers (phase_store), again when a cancel or terminate
// arriving during the store made it fail; sets `pending` aside meanwhile.
// The caller holds interrupts.
void store_window(Run& r, Store& st, PendingInterrupts& pending) {
  for (int attempt = 1;; ++attempt) {
    set_aside(pending);
    st.charged = st.after = r.c;
    ErrorData* err = attempt_phase(r, phase_store, &st);
    if (err == nullptr) break;
    // A cancel or terminate that arrived during the store (and may be why
    // it failed): set it aside and store again (a few times at most).
    if ((QueryCancelPending || ProcDiePending) && attempt < 10) {
      FreeErrorData(err);
      RESUME_INTERRUPTS();  // attempt_phase's extra hold; ours stays
      continue;
    }
    give_back(pending);
    r.c = st.charged;  // what was charged for counts, although it is lost
    fail_phase(r, err);
  }
}

// The WARNING for requests a cancel abandoned (drain.unanswered > 0).
void warn_abandoned(const qxt::BatchCancelReport& drain) {
  const bool one = drain.unanswered == 1;
  const char* which =
      drain.unanswered == drain.in_flight
          ? (one ? "the request" : psprintf("the %zu requests", drain.in_flight))
          : psprintf("%zu of the %zu requests", drain.unanswered, drain.in_flight);
  ereport(WARNING,
          (errmsg("qxt_refresh: %s in flight at the cancel got no answer and %s abandoned; "
                  "the vendor may have charged %s",
                  which, one ? "was" : "were", one ? "it" : "them"),
           errdetail("The numbers of the abandoned request%s have no row in qxt_lookups; "
                     "the next run asks for them again.",
                     one ? "" : "s")));
}

// One window: the next keys of the to-do set, asked, stored and committed.
// Returns false when the to-do set is done; raises when the window failed.
bool run_window(Run& r, const QxtGucSnapshot& g, MemoryContext windowcxt) {
  MemoryContextSwitchTo(windowcxt);
  if (client_gone()) stop_for_lost_client(r);
  run_phase(r, phase_check_interrupts, nullptr);
  Window w;
  w.size = window_size(g);
  w.cxt = windowcxt;
  run_phase(r, phase_next_window, &w);
  if (w.n == 0) {
    MemoryContextSwitchTo(r.cxt);
    return false;
  }

  // The job is owned by a memory context (freed on any error).
  MemoryContext jobcxt = AllocSetContextCreate(windowcxt, "qxt_refresh job",
                                               ALLOCSET_SMALL_SIZES);
  QxtOwnedJob* owned = qxt_owned_job(jobcxt);
  QxtFailure failure;
  qxt::BatchCancelReport drain;  // plain data
  ask_window(g, w, owned, &failure, &drain);

  // Keep what was answered, even when the window failed or was cancelled:
  // it is paid for.  Interrupts are held so that nothing strikes before
  // the answers are committed.
  HOLD_INTERRUPTS();
  Store st{owned->job, &w, &failure, r.c};
  if (failure.cancelled) {
    note_drain(r.drain_note, sizeof r.drain_note, drain);
    strlcpy(g_active.drain_note, r.drain_note, sizeof g_active.drain_note);
  }
  PendingInterrupts pending;
  store_window(r, st, pending);
  r.c = st.after;
  commit_run();
  if (failure.failed && !failure.cancelled) {
    r.phase = Phase::Finished;
    g_active.active = false;
  }
  give_back(pending);
  // Still holding interrupts: a WARNING ends with CHECK_FOR_INTERRUPTS,
  // which would raise the cancel here, outside any phase.
  if (failure.cancelled && drain.unanswered > 0) warn_abandoned(drain);
  MemoryContextSwitchTo(r.cxt);
  MemoryContextReset(windowcxt);  // deletes the job too
  RESUME_INTERRUPTS();
  if (failure.failed) {
    if (failure.cancelled) run_phase(r, phase_raise_cancel, &failure);  // does not return
    notice_progress(r, NoticeKind::Stopped);
    qxt_failure_raise(&failure);
  }
  return true;
}

// A dry run's end: the balance (free; a failure of the call is a WARNING
// and the balance unknown, no key at all fails the run with 28000), the run
// recorded as 'estimated' with what it would send, and the NOTICE.
struct DryRunEnd {
  const QxtGucSnapshot* g;
  bool have_balance = false;
  int64 balance = 0;
  char message[256] = {0};
};

void phase_dry_balance(Run&, void* arg) {
  auto* d = static_cast<DryRunEnd*>(arg);
  d->have_balance = qxt_balance_or_warn(*d->g, "qxt_refresh", &d->balance);
}

void phase_dry_record(Run& r, void* arg) {
  auto* d = static_cast<DryRunEnd*>(arg);
  const RunCounts& c = r.c;
  char bal[64];
  if (d->have_balance)
    snprintf(bal, sizeof bal, "the balance is %lld", (long long)d->balance);
  else
    strlcpy(bal, "the balance could not be read", sizeof bal);
  snprintf(d->message, sizeof d->message,
           "dry run: a run now would look up %lld numbers (of %lld rows: %lld invalid, "
           "%lld duplicates, %lld skipped as fresh); %s; nothing was sent",
           (long long)c.to_do, (long long)c.total, (long long)c.invalid,
           (long long)(c.total - c.invalid - c.distinct), (long long)c.fresh, bal);
  update_run(r, "estimated", d->message);
}

void finish_dry_run(Run& r, const QxtGucSnapshot& g) {
  DryRunEnd d;
  d.g = &g;
  run_phase(r, phase_dry_balance, &d);
  HOLD_INTERRUPTS();
  run_phase(r, phase_dry_record, &d);
  commit_run();
  r.phase = Phase::Finished;
  g_active.active = false;
  RESUME_INTERRUPTS();
  const RunCounts& c = r.c;
  ereport(NOTICE,
          (errmsg("qxt_refresh: dry run: would look up %lld numbers, paying for at most %lld "
                  "lookups (of %lld rows: %lld invalid, %lld duplicates, %lld skipped as fresh)",
                  (long long)c.to_do, (long long)c.to_do, (long long)c.total,
                  (long long)c.invalid, (long long)(c.total - c.invalid - c.distinct),
                  (long long)c.fresh),
           d.have_balance ? errdetail("The balance is %lld lookups. Nothing was sent, nothing "
                                      "was paid, nothing was written to qxt_lookups.",
                                      (long long)d.balance)
                          : errdetail("The balance could not be read. Nothing was sent, "
                                      "nothing was paid, nothing was written to qxt_lookups."),
           errhint("The run is recorded as 'estimated' in qxt_refresh_progress (run %lld). "
                   "CALL qxt_refresh without dry_run looks them up.",
                   (long long)r.run_id)));
  SPI_finish();
}

void refresh_body(Run& r) {
  open_run(r);
  run_phase(r, phase_prepare, nullptr);
  // The settings and the key, as the source query left them, read once for
  // the whole run.  Reading the key can fail (F0000: a key file that is
  // missing or open to others, both settings given): that is a failure of
  // the run, recorded as such, and nothing was sent.
  QxtGucSnapshot g;
  run_phase(r, phase_settings, &g);
  commit_run();
  if (r.dry_run) {
    finish_dry_run(r, g);
    return;
  }
  r.phase = Phase::Windows;
  notice_progress(r, NoticeKind::Start);

  TimestampTz last_notice = GetCurrentTimestamp();
  // Everything a window allocates lives in this context, reset per window,
  // so a run of any size stays in bounded memory.
  MemoryContext windowcxt =
      AllocSetContextCreate(r.cxt, "qxt_refresh window", ALLOCSET_DEFAULT_SIZES);
  while (run_window(r, g, windowcxt)) {
    if (TimestampDifferenceExceeds(last_notice, GetCurrentTimestamp(), g.progress_interval_ms)) {
      notice_progress(r, NoticeKind::Progress);
      last_notice = GetCurrentTimestamp();
    }
  }

  HOLD_INTERRUPTS();
  run_phase(r, phase_done, nullptr);
  commit_run();
  r.phase = Phase::Finished;
  g_active.active = false;
  RESUME_INTERRUPTS();
  notice_progress(r, NoticeKind::Finished);
  SPI_finish();
}

void release_lock(void) {
  if (global_lock_held()) DirectFunctionCall1(pg_advisory_unlock_int8, Int64GetDatum(kLockKey));
}

}  // namespace

Datum qxt_refresh(PG_FUNCTION_ARGS) {
  CallContext* cc = fcinfo->context && IsA(fcinfo->context, CallContext)
                        ? reinterpret_cast<CallContext*>(fcinfo->context)
                        : nullptr;
  if (cc == nullptr || cc->atomic)
    ereport(ERROR,
            (errcode(ERRCODE_INVALID_TRANSACTION_TERMINATION),
             errmsg("qxt_refresh must be called at top level, not inside a transaction block"),
             errdetail("It commits after every batch so that nothing already paid for is lost; "
                       "that is impossible inside an explicit transaction, a function or a "
                       "DO block run in one."),
             errhint("Run CALL qxt_refresh(...) as a statement of its own (autocommit), e.g. "
                     "from psql or pg_cron.")));
  // A standby cannot record a run or store an answer: say so before
  // anything else (rather than failing inside an internal statement).
  if (RecoveryInProgress())
    ereport(ERROR,
            (errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
             errmsg("qxt_refresh cannot run on a standby"),
             errdetail("It writes qxt_lookups and qxt_refresh_runs; this server is in recovery. "
                       "Nothing was sent."),
             errhint("Run it on the primary. On a standby, qxt_carrier and qxt_carrier_batch "
                     "work, and with qxt.cache_max_age they answer from the replicated "
                     "qxt_lookups.")));
  if (PG_ARGISNULL(0))
    ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                    errmsg("qxt_refresh needs a source query"),
                    errhint("Example: CALL qxt_refresh('SELECT phone FROM customers');")));
  Run r;
  r.source = text_to_cstring(PG_GETARG_TEXT_PP(0));
  r.max_age = PG_ARGISNULL(1) ? nullptr : PG_GETARG_INTERVAL_P(1);
  // (Until ALTER EXTENSION ... UPDATE, the 1.1 procedure has two arguments.)
  if (PG_NARGS() > 2) {
    if (PG_ARGISNULL(2))
      ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                      errmsg("qxt_refresh: dry_run must be true or false, not NULL"),
                      errdetail("Nothing was sent.")));
    r.dry_run = PG_GETARG_BOOL(2);
  }
  // A dry run says, for free, which numbers qxt_lookups holds fresh (its
  // "skipped as fresh"): only for a caller who may read the table anyway,
  // as qxt_estimate with qxt.cache_max_age.  (A real run says it too, but
  // pays for every number that is not there and stores it.)
  if (r.dry_run) {
    const Oid relid = get_relname_relid("qxt_lookups", qxt_extension_namespace());
    if (OidIsValid(relid) && !qxt_may_read(relid)) {
      const char* role = GetUserNameFromId(GetUserId(), false);
      ereport(ERROR,
              (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
               errmsg("permission denied for a dry run of qxt_refresh: it needs SELECT on "
                      "qxt_lookups"),
               errdetail("A dry run tells which numbers of the source qxt_lookups already holds "
                         "(skipped as fresh) without paying; role \"%s\" may not read the table. "
                         "Nothing was sent and no run was recorded.",
                         role),
               errhint("GRANT SELECT ON qxt_lookups TO %s, or run qxt_refresh without dry_run.",
                       quote_identifier(role))));
    }
  }

  if (!DatumGetBool(DirectFunctionCall1(pg_try_advisory_lock_int8, Int64GetDatum(kLockKey))))
    ereport(ERROR,
            (errcode(ERRCODE_LOCK_NOT_AVAILABLE),
             errmsg("another qxt_refresh is running in this database"),
             errdetail("Two runs at once could pay twice for the same numbers."),
             errhint("SELECT * FROM qxt_refresh_progress shows it; try again when it ends.")));
  PG_TRY();
  {
    refresh_body(r);
  }
  PG_CATCH();
  {
    // Every error after the run's row exists is recorded by run_phase.  If
    // one escaped anyway (a failed COMMIT), give the run's lock back, so the
    // view shows the run as interrupted instead of running.
    if (g_active.active && g_run_lock_held) {
      g_active.active = false;
      if (run_lock_held())
        DirectFunctionCall2(pg_advisory_unlock_int4, Int32GetDatum(kRunLockKey),
                            Int32GetDatum(g_run_lock_key2));
      g_run_lock_held = false;
    }
    release_lock();
    PG_RE_THROW();
  }
  PG_END_TRY();
  release_lock();
  PG_RETURN_VOID();
}
