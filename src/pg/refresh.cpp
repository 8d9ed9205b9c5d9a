// CALL qxt_refresh(source, max_age): a refresh job that keeps what it paid
// for.  The source query's numbers are normalised and deduplicated into a
// temporary table (on disk, so a million numbers stay in bounded memory),
// numbers looked up more recently than max_age are skipped, and the rest
// are looked up one window (qxt.batch_size x qxt.batch_concurrency numbers)
// at a time; each window's answers are upserted into qxt_lookups and
// committed before the next is sent.  A failure, a cancel or an exhausted
// balance therefore loses nothing already paid for, and the next run
// resumes where this one stopped.  Progress: a NOTICE every few seconds and
// the run's row in qxt_refresh_runs, committed with every window.
#include "qxt_pg.hpp"

extern "C" {
#include "executor/spi.h"
#include "utils/timestamp.h"
PG_FUNCTION_INFO_V1(qxt_refresh);
}

namespace {

constexpr int64 kLockKey = 0x71787472656672LL;  // "qxtrefr"

// Counters of one run (plain data).
struct RunCounts {
  int64 total = 0;      // rows the source returned
  int64 invalid = 0;    // NULL or not a mobile number (never sent)
  int64 distinct = 0;   // distinct valid numbers
  int64 fresh = 0;      // skipped: looked up within max_age
  int64 to_do = 0;      // to look up in this run
  int64 done = 0;       // looked up (answered) so far
  int64 failed = 0;     // answered with a per-number failure (-2/-3/-4 ...)
  int64 paid = 0;       // answered with success (what the vendor charges)
};

const char* g_schema = nullptr;  // quoted schema of the extension (per call)

// Runs a statement through SPI, raising a clear internal error when SPI
// itself fails (statement errors raise on their own).
void spi_exec(const char* sql, int expected, int nargs = 0, Oid* types = nullptr,
              Datum* values = nullptr, const char* nulls = nullptr) {
  int rc = nargs ? SPI_execute_with_args(sql, nargs, types, values, nulls, false, 0)
                 : SPI_execute(sql, false, 0);
  if (rc != expected)
    ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                    errmsg("qxt_refresh: internal statement failed (SPI code %d)", rc),
                    errdetail("Statement: %s", sql)));
}

int64 spi_int8(int row, int col) {
  bool isnull;
  Datum d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, &isnull);
  return isnull ? 0 : DatumGetInt64(d);
}

char* sql(const char* fmt, ...) pg_attribute_printf(1, 2);
char* sql(const char* fmt, ...) {
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

void update_run(int64 run_id, const RunCounts& c, const char* state, const char* message) {
  Oid types[10] = {INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID,
                   TEXTOID, TEXTOID};
  Datum values[10] = {Int64GetDatum(run_id), Int64GetDatum(c.done), Int64GetDatum(c.failed),
                      Int64GetDatum(c.paid), Int64GetDatum(c.total), Int64GetDatum(c.invalid),
                      Int64GetDatum(c.fresh), Int64GetDatum(c.to_do),
                      CStringGetTextDatum(state),
                      message ? CStringGetTextDatum(message) : (Datum)0};
  char nulls[11] = "          ";
  if (!message) nulls[9] = 'n';
  spi_exec(sql("UPDATE %s.qxt_refresh_runs SET done = $2, failed = $3, paid = $4, total = $5, "
               "invalid = $6, fresh = $7, to_look_up = $8, state = $9, message = $10, "
               "updated_at = clock_timestamp(), "
               "finished_at = CASE WHEN $9 = 'running' THEN NULL ELSE clock_timestamp() END "
               "WHERE run_id = $1",
               g_schema),
           SPI_OK_UPDATE, 10, types, values, nulls);
}

enum class NoticeKind { Start, Progress, Finished, Stopped };

void notice_progress(const RunCounts& c, TimestampTz started, NoticeKind kind) {
  long secs;
  int usecs;
  TimestampDifference(started, GetCurrentTimestamp(), &secs, &usecs);
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

// Upserts the answers of one window.  Returns nothing; counts into `c`.
void store_window(const qxt::BatchJob& job, const std::uint64_t* keys, int n, RunCounts& c) {
  Datum* mob = static_cast<Datum*>(palloc(sizeof(Datum) * n));
  Datum* res = static_cast<Datum*>(palloc(sizeof(Datum) * n));
  Datum* area = static_cast<Datum*>(palloc(sizeof(Datum) * n));
  Datum* init = static_cast<Datum*>(palloc(sizeof(Datum) * n));
  Datum* now = static_cast<Datum*>(palloc(sizeof(Datum) * n));
  Datum* code = static_cast<Datum*>(palloc(sizeof(Datum) * n));
  bool* res_null = static_cast<bool*>(palloc(n));
  bool* area_null = static_cast<bool*>(palloc(n));
  bool* init_null = static_cast<bool*>(palloc(n));
  bool* now_null = static_cast<bool*>(palloc(n));
  int m = 0;
  for (int i = 0; i < n; ++i) {
    const qxt::CompactResult* r = job.result_for(keys[i]);
    if (r == nullptr || r->code == qxt::CompactResult::kNotAsked) continue;
    if (!qxt::StatementMemo::memorable(r->code)) continue;
    char digits[qxt::kMobileDigits];
    qxt::key_to_digits(keys[i], digits);
    mob[m] = PointerGetDatum(cstring_to_text_with_len(digits, qxt::kMobileDigits));
    code[m] = Int32GetDatum(r->code);
    bool ok = r->code == 0;
    res[m] = Int16GetDatum(r->res);
    res_null[m] = !ok || r->res < 0;
    const std::uint32_t ids[3] = {r->area, r->init_isp, r->now_isp};
    Datum* outs[3] = {area, init, now};
    bool* outn[3] = {area_null, init_null, now_null};
    for (int f = 0; f < 3; ++f) {
      outn[f][m] = !ok || ids[f] == 0;
      if (!outn[f][m]) {
        std::string_view sv = job.text(ids[f]);
        outs[f][m] = qxt_vendor_text(sv.data(), sv.size());
      } else {
        outs[f][m] = (Datum)0;
      }
    }
    if (ok) ++c.paid;
    else ++c.failed;
    ++m;
  }
  c.done += m;
  if (m == 0) return;
  int dims[1] = {m};
  int lbs[1] = {1};
  Oid types[6] = {TEXTARRAYOID, INT2ARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID,
                  INT4ARRAYOID};
  Datum values[6] = {
      PointerGetDatum(construct_md_array(mob, nullptr, 1, dims, lbs, TEXTOID, -1, false, TYPALIGN_INT)),
      PointerGetDatum(construct_md_array(res, res_null, 1, dims, lbs, INT2OID, 2, true, TYPALIGN_SHORT)),
      PointerGetDatum(construct_md_array(area, area_null, 1, dims, lbs, TEXTOID, -1, false, TYPALIGN_INT)),
      PointerGetDatum(construct_md_array(init, init_null, 1, dims, lbs, TEXTOID, -1, false, TYPALIGN_INT)),
      PointerGetDatum(construct_md_array(now, now_null, 1, dims, lbs, TEXTOID, -1, false, TYPALIGN_INT)),
      PointerGetDatum(construct_md_array(code, nullptr, 1, dims, lbs, INT4OID, 4, true, TYPALIGN_INT)),
  };
  spi_exec(sql("INSERT INTO %s.qxt_lookups AS l (mobile, res, area, init_isp, now_isp, code, "
               "looked_up_at) "
               "SELECT u.* , clock_timestamp() FROM unnest($1, $2, $3, $4, $5, $6) "
               "AS u(mobile, res, area, init_isp, now_isp, code) "
               "ON CONFLICT (mobile) DO UPDATE SET res = excluded.res, area = excluded.area, "
               "init_isp = excluded.init_isp, now_isp = excluded.now_isp, code = excluded.code, "
               "looked_up_at = excluded.looked_up_at",
               g_schema),
           SPI_OK_INSERT, 6, types, values, nullptr);
}

// Drops a temporary table of ours if this session has one (quietly: no
// "does not exist" NOTICE in the user's output).
void drop_temp(const char* name) {
  spi_exec(sql("SELECT to_regclass('pg_temp.%s') IS NOT NULL", name), SPI_OK_SELECT);
  bool isnull;
  bool exists = DatumGetBool(
      SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
  if (exists) spi_exec(sql("DROP TABLE pg_temp.%s", name), SPI_OK_UTILITY);
}

void release_lock(void) {
  DirectFunctionCall1(pg_advisory_unlock_int8, Int64GetDatum(kLockKey));
}

void refresh_body(FunctionCallInfo fcinfo, const char* source, Interval* max_age);

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
  if (PG_ARGISNULL(0))
    ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                    errmsg("qxt_refresh needs a source query"),
                    errhint("Example: CALL qxt_refresh('SELECT phone FROM customers');")));
  char* source = text_to_cstring(PG_GETARG_TEXT_PP(0));
  Interval* max_age = PG_ARGISNULL(1) ? nullptr : PG_GETARG_INTERVAL_P(1);

  if (!DatumGetBool(DirectFunctionCall1(pg_try_advisory_lock_int8, Int64GetDatum(kLockKey))))
    ereport(ERROR,
            (errcode(ERRCODE_LOCK_NOT_AVAILABLE),
             errmsg("another qxt_refresh is running in this database"),
             errdetail("Two runs at once could pay twice for the same numbers."),
             errhint("SELECT * FROM qxt_refresh_progress shows it; try again when it ends.")));
  PG_TRY();
  {
    refresh_body(fcinfo, source, max_age);
  }
  PG_CATCH();
  {
    release_lock();
    PG_RE_THROW();
  }
  PG_END_TRY();
  release_lock();
  PG_RETURN_VOID();
}

namespace {

void refresh_body(FunctionCallInfo fcinfo, const char* source, Interval* max_age) {
  if (SPI_connect_ext(SPI_OPT_NONATOMIC) != SPI_OK_CONNECT)
    ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("qxt_refresh: SPI_connect failed")));
  qxt_require_vendor_encoding();
  g_schema = qxt_extension_schema();
  const TimestampTz started = GetCurrentTimestamp();
  RunCounts c;

  // The source must return exactly one column; it runs with the caller's
  // privileges (this procedure is not SECURITY DEFINER).
  spi_exec(sql("SELECT * FROM (%s) AS qxt_source LIMIT 0", source), SPI_OK_SELECT);
  if (SPI_tuptable->tupdesc->natts != 1)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("the source query of qxt_refresh must return one column of phone "
                           "numbers; it returns %d",
                           SPI_tuptable->tupdesc->natts),
                    errhint("Example: CALL qxt_refresh('SELECT phone FROM customers');")));

  // Stage: normalise every row, then keep the distinct valid numbers that
  // are not fresh in qxt_lookups, numbered for windowing.
  drop_temp("qxt_refresh_stage");
  drop_temp("qxt_refresh_todo");
  spi_exec(sql("CREATE TEMP TABLE qxt_refresh_stage AS "
               "SELECT %s.qxt_normalize_mobile(s.x::text) AS mobile "
               "FROM (%s) AS s(x)",
               g_schema, source),
           SPI_OK_UTILITY);
  spi_exec("SELECT count(*)::int8, count(*) FILTER (WHERE mobile IS NULL)::int8, "
           "count(DISTINCT mobile)::int8 FROM pg_temp.qxt_refresh_stage",
           SPI_OK_SELECT);
  c.total = spi_int8(0, 1);
  c.invalid = spi_int8(0, 2);
  c.distinct = spi_int8(0, 3);
  {
    Oid types[1] = {INTERVALOID};
    Datum values[1] = {max_age ? IntervalPGetDatum(max_age) : (Datum)0};
    char nulls[2] = {max_age ? ' ' : 'n', '\0'};
    spi_exec(sql("CREATE TEMP TABLE qxt_refresh_todo AS "
                 "SELECT row_number() OVER (ORDER BY d.mobile) AS n, d.mobile "
                 "FROM (SELECT DISTINCT mobile FROM pg_temp.qxt_refresh_stage "
                 "      WHERE mobile IS NOT NULL) d "
                 "WHERE $1 IS NULL OR NOT EXISTS (SELECT 1 FROM %s.qxt_lookups l "
                 "  WHERE l.mobile = d.mobile AND l.looked_up_at >= now() - $1)",
                 g_schema),
             SPI_OK_UTILITY, 1, types, values, nulls);
  }
  drop_temp("qxt_refresh_stage");
  spi_exec("SELECT count(*)::int8 FROM pg_temp.qxt_refresh_todo", SPI_OK_SELECT);
  c.to_do = spi_int8(0, 1);
  c.fresh = c.distinct - c.to_do;

  // The run's row, visible to other sessions from the first commit on.
  {
    Oid types[1] = {TEXTOID};
    Datum values[1] = {CStringGetTextDatum(source)};
    spi_exec(sql("INSERT INTO %s.qxt_refresh_runs (source, state) VALUES ($1, 'running') "
                 "RETURNING run_id",
                 g_schema),
             SPI_OK_INSERT_RETURNING, 1, types, values, nullptr);
  }
  const int64 run_id = spi_int8(0, 1);
  update_run(run_id, c, "running", nullptr);
  SPI_commit();
  notice_progress(c, started, NoticeKind::Start);

  QxtGucSnapshot g = qxt_guc_snapshot();
  const int64 window = static_cast<int64>(g.batch_size) * g.batch_concurrency;
  TimestampTz last_notice = GetCurrentTimestamp();
  // Everything a window allocates lives in this context, reset per window,
  // so a run of any size stays in bounded memory.
  MemoryContext windowcxt = AllocSetContextCreate(CurrentMemoryContext, "qxt_refresh window",
                                                  ALLOCSET_DEFAULT_SIZES);

  for (int64 from = 0; from < c.to_do; from += window) {
    // PostgreSQL part: this window's numbers.
    Oid types[2] = {INT8OID, INT8OID};
    Datum values[2] = {Int64GetDatum(from), Int64GetDatum(from + window)};
    spi_exec("SELECT mobile FROM pg_temp.qxt_refresh_todo WHERE n > $1 AND n <= $2 ORDER BY n",
             SPI_OK_SELECT, 2, types, values, nullptr);
    const int n = static_cast<int>(SPI_processed);
    std::uint64_t* wkeys = static_cast<std::uint64_t*>(
        MemoryContextAlloc(windowcxt, sizeof(std::uint64_t) * (n + 1)));
    for (int i = 0; i < n; ++i) {
      bool isnull;
      Datum d = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);
      text* t = DatumGetTextPP(d);
      wkeys[i] = qxt::mobile_to_key(
          std::string_view(VARDATA_ANY(t), static_cast<std::size_t>(VARSIZE_ANY_EXHDR(t))));
    }
    SPI_freetuptable(SPI_tuptable);

    // The job is owned by a memory context (freed on any error).
    MemoryContext jobcxt = AllocSetContextCreate(windowcxt, "qxt_refresh job",
                                                 ALLOCSET_SMALL_SIZES);
    auto* cb = static_cast<MemoryContextCallback*>(
        MemoryContextAllocZero(jobcxt, sizeof(MemoryContextCallback)));
    cb->func = [](void* arg) { delete static_cast<qxt::BatchJob*>(arg); };
    MemoryContextRegisterResetCallback(jobcxt, cb);

    QxtFailure failure;
    qxt_run_core(&failure, [&] {
      qxt::Settings s;
      qxt_fill_settings(g, s);
      auto* job = new qxt::BatchJob(wkeys, static_cast<std::size_t>(n), s.batch_size);
      cb->arg = job;
      qxt_session_client().batch(s, *job, qxt_cancel_requested);
    });

    // Keep what was answered, even when the window failed or was cancelled:
    // it is paid for.  Interrupts are held so a pending cancel cannot strike
    // before the answers are committed.
    HOLD_INTERRUPTS();
    if (cb->arg != nullptr) {
      MemoryContext old = MemoryContextSwitchTo(windowcxt);
      store_window(*static_cast<qxt::BatchJob*>(cb->arg), wkeys, n, c);
      MemoryContextSwitchTo(old);
    }
    const char* state = !failure.failed ? "running" : failure.cancelled ? "cancelled" : "failed";
    const char* why = !failure.failed ? nullptr
                      : failure.cancelled
                          ? "cancelled (query cancel or statement_timeout); the requests of "
                            "the window in flight were abandoned"
                          : failure.message;
    update_run(run_id, c, state, why);
    SPI_commit();
    MemoryContextReset(windowcxt);  // deletes the job too
    RESUME_INTERRUPTS();
    if (failure.failed) {
      notice_progress(c, started, NoticeKind::Stopped);
      qxt_failure_raise(&failure);
    }
    CHECK_FOR_INTERRUPTS();
    if (TimestampDifferenceExceeds(last_notice, GetCurrentTimestamp(), g.progress_interval_ms)) {
      notice_progress(c, started, NoticeKind::Progress);
      last_notice = GetCurrentTimestamp();
    }
  }

  update_run(run_id, c, "done", nullptr);
  drop_temp("qxt_refresh_todo");
  SPI_commit();
  notice_progress(c, started, NoticeKind::Finished);
  SPI_finish();
}

}  // namespace
