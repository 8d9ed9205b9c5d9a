// qxt_carrier(text) and qxt_carrier_batch(text[]): argument reading, the
// cached rows (cache.cpp), the core's lookup service (lookup_service.hpp)
// inside the boundary, and the result rows.  Where an answer comes from is
// decided in the service, not here.
#include "convert.hpp"
#include "qxt_pg.hpp"
#include "stats.hpp"

extern "C" {
PG_FUNCTION_INFO_V1(qxt_carrier);
PG_FUNCTION_INFO_V1(qxt_carrier_batch);
}

namespace {

constexpr int kNatts = 5;  // qxt_carrier_result: res, mobile, area, init_isp, now_isp

// The last single answer: static storage, not a stack frame, so it may stay
// alive while PostgreSQL code (which may longjmp) builds the result tuple.
qxt::CarrierRecord g_single;

}  // namespace

Datum qxt_carrier(PG_FUNCTION_ARGS) {
  const std::string_view arg = qxt_text_view(PG_GETARG_TEXT_PP(0));
  char digits[qxt::kMobileDigits];
  qxt_mobile_digits(arg, digits);
  const std::string_view mobile(digits, qxt::kMobileDigits);
  qxt_refuse_parallel_worker("qxt_carrier");
  qxt_require_vendor_encoding();

  TupleDesc desc;
  if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
    ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                    errmsg("qxt_carrier must return the composite type qxt_carrier_result")));
  desc = BlessTupleDesc(desc);

  QxtGucSnapshot g = qxt_guc_snapshot();
  QxtStatement stmt = qxt_current_statement();
  uint64 key = qxt::mobile_to_key(mobile);
  QxtCachedRow* cached = nullptr;
  int ncached = qxt_cache_fetch(&key, 1, g.cache_max_age_s, &cached);
  QxtFailure failure;
  if (ncached == 1) {  // a cache hit needs no key, client or memo
    QxtStatDelta hit;
    hit.cache_hits = 1;
    qxt_stats_add(QxtStatEndpoint::Carrier, hit);
  }
  if (ncached == 1)
    qxt_run_core(&failure, [&] { g_single = qxt::answer_from_cached(mobile, *cached); });
  else
    qxt_run_core(&failure, g, [&](const qxt::Settings& s) {
      qxt::LookupService svc(qxt_session_client(), qxt_memo_for(stmt, s), s, qxt_cancel_requested);
      g_single = svc.carrier(mobile, nullptr);
    });
  qxt_failure_raise(&failure);

  Datum values[kNatts];
  bool nulls[kNatts] = {false, false, false, false, false};
  const qxt::CarrierRecord& r = g_single;
  values[0] = Int16GetDatum(static_cast<int16>(r.res));
  nulls[0] = r.res < 0;
  values[1] = qxt_digits_text(digits);
  const std::string* fields[3] = {&r.area, &r.init_isp, &r.now_isp};
  for (int i = 0; i < 3; ++i) {
    nulls[2 + i] = fields[i]->empty();
    if (!nulls[2 + i]) values[2 + i] = qxt_vendor_text(fields[i]->data(), fields[i]->size());
  }
  HeapTuple tuple = heap_form_tuple(desc, values, nulls);
  PG_RETURN_DATUM(HeapTupleGetDatum(tuple));
}

namespace {

// The closing WARNING of a batch with rows that have no lookup result (the
// tally is the core's: tally_failures).
void warn_failures(const qxt::BatchFailures& t, long total) {
  const long failed = t.failed();
  if (failed == 0) return;
  char detail[qxt::BatchFailures::kDescribeCap];
  t.describe(detail, sizeof detail);
  ereport(WARNING,
          (errmsg("qxt_carrier_batch: %ld of %ld rows have no lookup result", failed, total),
           errdetail("%s.", detail),
           errhint("Those rows have NULL lookup fields; qxt_normalize_mobile() shows which "
                   "inputs cannot be numbers.")));
}

// One row per element, in array order.
void emit_rows(ReturnSetInfo* rsinfo, MemoryContext jobcxt, const qxt::BatchJob* job,
               const uint64* keys, int n) {
  QxtTextDatums texts(jobcxt, job);
  text* mobile = static_cast<text*>(MemoryContextAlloc(jobcxt, VARHDRSZ + qxt::kMobileDigits));
  SET_VARSIZE(mobile, VARHDRSZ + qxt::kMobileDigits);
  for (int i = 0; i < n; ++i) {
    Datum values[kNatts] = {0, 0, 0, 0, 0};
    bool nulls[kNatts] = {true, true, true, true, true};
    if (keys[i] != 0) {
      char digits[qxt::kMobileDigits];
      qxt::key_to_digits(keys[i], digits);
      std::memcpy(VARDATA(mobile), digits, qxt::kMobileDigits);
      values[1] = PointerGetDatum(mobile);
      nulls[1] = false;
      const qxt::CompactResult* r = job ? job->result_for(keys[i]) : nullptr;
      if (r != nullptr && r->code == 0) {
        values[0] = Int16GetDatum(r->res);
        nulls[0] = r->res < 0;
        const std::uint32_t ids[3] = {r->area, r->init_isp, r->now_isp};
        for (int f = 0; f < 3; ++f) {
          nulls[2 + f] = ids[f] == 0;
          if (ids[f] != 0) values[2 + f] = texts.get(ids[f]);
        }
      }
    }
    tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    if ((i & 1023) == 0) CHECK_FOR_INTERRUPTS();
  }
}

}  // namespace

uint64* qxt_batch_keys(ArrayType* arr, const char* function, bool** elem_nulls, int* n) {
  if (ARR_NDIM(arr) > 1)
    ereport(ERROR, (errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
                    errmsg("%s takes a one-dimensional array", function),
                    errdetail("The array given has %d dimensions.", ARR_NDIM(arr)),
                    errhint("Flatten it first, e.g. ARRAY(SELECT unnest(a)).")));
  Datum* elems = nullptr;
  deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, elem_nulls, n);
  if (*n == 0) return nullptr;
  return qxt_mobile_keys(elems, *elem_nulls, *n);
}

Datum qxt_carrier_batch(PG_FUNCTION_ARGS) {
  InitMaterializedSRF(fcinfo, 0);
  ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);

  bool* elem_nulls = nullptr;
  int n = 0;
  // 0 marks an element that is NULL or cannot be a number: it is never sent.
  uint64* keys = qxt_batch_keys(PG_GETARG_ARRAYTYPE_P(0), "qxt_carrier_batch", &elem_nulls, &n);
  if (n == 0) return (Datum)0;
  qxt_refuse_parallel_worker("qxt_carrier_batch");
  qxt_require_vendor_encoding();

  // The job lives in a memory context of its own: deleting the context (at
  // the end, or on any error) deletes the job.
  MemoryContext jobcxt = AllocSetContextCreate(CurrentMemoryContext, "qxt_carrier_batch",
                                               ALLOCSET_DEFAULT_SIZES);
  QxtOwnedJob* owned = qxt_owned_job(jobcxt);

  QxtGucSnapshot g = qxt_guc_snapshot();
  QxtStatement stmt = qxt_current_statement();
  QxtCachedRow* cached = nullptr;
  int ncached = qxt_cache_fetch(keys, n, g.cache_max_age_s, &cached);
  QxtFailure failure;
  qxt::BatchFailures tally;  // plain data
  qxt_run_core(&failure, g, [&](const qxt::Settings& s) {
    const auto* k = reinterpret_cast<const std::uint64_t*>(keys);
    qxt::LookupService svc(qxt_session_client(), qxt_memo_for(stmt, s), s, qxt_cancel_requested);
    svc.carrier_batch(k, static_cast<std::size_t>(n), cached, static_cast<std::size_t>(ncached),
                      [owned](qxt::BatchJob* job) { owned->job = job; });
    tally = qxt::tally_failures(owned->job, k, elem_nulls, static_cast<std::size_t>(n));
  });
  qxt_failure_raise(&failure);
  emit_rows(rsinfo, jobcxt, owned->job, keys, n);
  warn_failures(tally, n);
  MemoryContextDelete(jobcxt);
  return (Datum)0;
}
