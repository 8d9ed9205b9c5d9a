// qxt.cache_max_age: the lookup functions may answer from qxt_lookups (the
// table qxt_refresh fills) when a row is young enough.  They only ever read
// it, with the caller's privileges, so a read-only transaction or a standby
// works; only qxt_refresh writes the table.
#include "qxt_pg.hpp"

extern "C" {
#include "executor/spi.h"
}

const char* qxt_extension_schema(void) {
  int rc = SPI_execute("SELECT quote_ident(n.nspname) FROM pg_extension e "
                       "JOIN pg_namespace n ON n.oid = e.extnamespace "
                       "WHERE e.extname = 'qxt_portability'",
                       true, 1);
  if (rc != SPI_OK_SELECT || SPI_processed != 1)
    ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT),
                    errmsg("extension qxt_portability is not installed in this database")));
  return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
}

int qxt_cache_fetch(const uint64* keys, int n, int max_age_s, QxtCachedRow** out) {
  *out = nullptr;
  if (max_age_s < 0 || n == 0) return 0;

  // The numbers as a text[] (duplicates and zeros skipped by the query).
  Datum* elems = static_cast<Datum*>(palloc_extended(sizeof(Datum) * n, MCXT_ALLOC_HUGE));
  int m = 0;
  for (int i = 0; i < n; ++i) {
    if (keys[i] == 0) continue;
    char digits[qxt::kMobileDigits];
    qxt::key_to_digits(keys[i], digits);
    elems[m++] = PointerGetDatum(cstring_to_text_with_len(digits, qxt::kMobileDigits));
  }
  if (m == 0) return 0;
  ArrayType* arr = construct_array(elems, m, TEXTOID, -1, false, TYPALIGN_INT);

  MemoryContext caller = CurrentMemoryContext;
  if (SPI_connect() != SPI_OK_CONNECT)
    ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("qxt: SPI_connect failed")));
  const char* schema = qxt_extension_schema();
  StringInfoData q;
  initStringInfo(&q);
  appendStringInfo(&q,
                   "SELECT mobile, code, res, area, init_isp, now_isp FROM %s.qxt_lookups "
                   "WHERE mobile = ANY($1) AND looked_up_at >= now() - make_interval(secs => $2)",
                   schema);
  Oid types[2] = {TEXTARRAYOID, INT4OID};
  Datum values[2] = {PointerGetDatum(arr), Int32GetDatum(max_age_s)};
  int rc = SPI_execute_with_args(q.data, 2, types, values, nullptr, true, 0);
  if (rc != SPI_OK_SELECT)
    ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                    errmsg("qxt: reading qxt_lookups failed (SPI code %d)", rc)));

  // Copy the rows out (strings as UTF-8, like the vendor's) before SPI_finish.
  int rows = static_cast<int>(SPI_processed);
  QxtCachedRow* res = static_cast<QxtCachedRow*>(
      MemoryContextAllocExtended(caller, sizeof(QxtCachedRow) * (rows + 1), MCXT_ALLOC_HUGE));
  TupleDesc td = SPI_tuptable->tupdesc;
  for (int i = 0; i < rows; ++i) {
    HeapTuple t = SPI_tuptable->vals[i];
    bool isnull;
    text* mob = DatumGetTextPP(SPI_getbinval(t, td, 1, &isnull));
    res[i].key = qxt::mobile_to_key(
        std::string_view(VARDATA_ANY(mob), static_cast<std::size_t>(VARSIZE_ANY_EXHDR(mob))));
    res[i].code = static_cast<int16>(DatumGetInt32(SPI_getbinval(t, td, 2, &isnull)));
    Datum r = SPI_getbinval(t, td, 3, &isnull);
    res[i].res = isnull ? -1 : DatumGetInt16(r);
    const char** strs[3] = {&res[i].area, &res[i].init_isp, &res[i].now_isp};
    for (int f = 0; f < 3; ++f) {
      Datum d = SPI_getbinval(t, td, 4 + f, &isnull);
      if (isnull) {
        *strs[f] = "";
        continue;
      }
      text* tx = DatumGetTextPP(d);
      int len = VARSIZE_ANY_EXHDR(tx);
      char* utf8 = pg_server_to_any(VARDATA_ANY(tx), len, PG_UTF8);
      *strs[f] = MemoryContextStrdup(caller, utf8 == VARDATA_ANY(tx) ? pnstrdup(utf8, len) : utf8);
    }
  }
  SPI_finish();
  *out = res;
  return rows;
}

qxt::BatchJob::Known qxt_known_answers(const qxt::StatementMemo* memo,
                                       const QxtCachedRow* rows, int nrows,
                                       std::unordered_map<std::uint64_t, const QxtCachedRow*>& index) {
  index.clear();
  index.reserve(static_cast<std::size_t>(nrows));
  for (int i = 0; i < nrows; ++i) index.emplace(rows[i].key, &rows[i]);
  qxt::BatchJob::Known from_memo = memo ? memo->as_known() : qxt::BatchJob::Known();
  return [from_memo, &index](std::uint64_t key, qxt::KnownAnswer& out) {
    if (from_memo && from_memo(key, out)) return true;
    auto it = index.find(key);
    if (it == index.end()) return false;
    const QxtCachedRow* r = it->second;
    out.code = r->code;
    out.res = r->res;
    out.area = r->area;
    out.init_isp = r->init_isp;
    out.now_isp = r->now_isp;
    return true;
  };
}
