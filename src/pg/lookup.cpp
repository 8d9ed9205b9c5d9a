// qxt_carrier(text) and qxt_carrier_batch(text[]): argument reading, the
// core call inside the boundary, and the result rows.  No business logic.
#include "convert.hpp"
#include "qxt_pg.hpp"

extern "C" {
PG_FUNCTION_INFO_V1(qxt_carrier);
PG_FUNCTION_INFO_V1(qxt_carrier_batch);
}

namespace {

constexpr int kNatts = 5;  // qxt_carrier_result: res, mobile, area, init_isp, now_isp

// The last single answer: static storage, not a stack frame, so it may stay
// alive while PostgreSQL code (which may longjmp) builds the result tuple.
qxt::CarrierRecord g_single;

// Raises 22023 for an input that cannot be a mobile number (nothing sent).
void raise_invalid_number(const char* data, int len) {
  int shown = pg_mbcliplen(data, len, 40);
  ereport(ERROR,
          (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
           errmsg("\"%.*s%s\" is not a valid Chinese mobile number", shown, data,
                  shown < len ? "..." : ""),
           errdetail("No request was sent and nothing was charged. A mobile number has 11 "
                     "digits starting with 13 to 19, optionally preceded by +86, 0086 or 86, "
                     "with spaces, dashes or dots between digit groups."),
           errhint("qxt_normalize_mobile() shows how a number is read; it returns NULL for "
                   "this one.")));
}

}  // namespace

Datum qxt_carrier(PG_FUNCTION_ARGS) {
  const std::string_view arg = qxt_text_view(PG_GETARG_TEXT_PP(0));
  char digits[qxt::kMobileDigits];
  if (!qxt::normalize_mobile(arg, digits))
    raise_invalid_number(arg.data(), static_cast<int>(arg.size()));
  qxt_refuse_parallel_worker("qxt_carrier");
  qxt_require_vendor_encoding();

  TupleDesc desc;
  if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
    ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                    errmsg("qxt_carrier must return the composite type qxt_carrier_result")));
  desc = BlessTupleDesc(desc);

  QxtGucSnapshot g = qxt_guc_snapshot();
  QxtStatement stmt = qxt_current_statement();
  // qxt.cache_max_age: a young enough row of qxt_lookups answers instead.
  uint64 key = qxt::mobile_to_key(std::string_view(digits, qxt::kMobileDigits));
  QxtCachedRow* cached = nullptr;
  int ncached = qxt_cache_fetch(&key, 1, g.cache_max_age_s, &cached);
  QxtFailure failure;
  qxt_run_core(&failure, g, [&](const qxt::Settings& s) {
    const std::string_view mobile(digits, qxt::kMobileDigits);
    if (ncached == 1) {
      if (cached->code != 0) {
        qxt::Error e = qxt::vendor_error(qxt::Endpoint::Carrier, cached->code, "", mobile);
        e.detail = "qxt_lookups holds the vendor's code " + std::to_string(cached->code) +
                   " for this number, younger than qxt.cache_max_age; nothing was sent.";
        throw qxt::QxtError(e);
      }
      qxt::CarrierRecord r;
      r.res = cached->res;
      r.mobile = std::string(mobile);
      r.area = cached->area;
      r.init_isp = cached->init_isp;
      r.now_isp = cached->now_isp;
      g_single = std::move(r);
      return;
    }
    g_single = qxt::carrier_once_per_statement(qxt_session_client(), qxt_memo_for(stmt, s), s,
                                               mobile, qxt_cancel_requested);
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

// Tallies of rows without an answer, for the closing WARNING.
struct FailureTally {
  long null_inputs = 0;
  long invalid_inputs = 0;
  long by_code[12] = {};  // vendor codes 1, -1 .. -10 ; index 11 = other
  long failed() const {
    long n = null_inputs + invalid_inputs;
    for (long c : by_code) n += c;
    return n;
  }
  void add_code(int code) {
    if (code == 1) ++by_code[0];
    else if (code <= -1 && code >= -10) ++by_code[-code];
    else ++by_code[11];
  }
};

const char* code_meaning(int idx) {
  static const char* m[12] = {"1 (malformed number)", "-1", "-2 (wrong length)",
                              "-3 (not a mobile number)", "-4 (no information found)",
                              "-5", "-6", "-7", "-8 (vendor system error)", "-9", "-10",
                              "another code"};
  return m[idx];
}

void warn_failures(const FailureTally& t, long total) {
  long failed = t.failed();
  if (failed == 0) return;
  StringInfoData d;
  initStringInfo(&d);
  auto part = [&](long n, const char* what) {
    if (n == 0) return;
    appendStringInfo(&d, "%s%ld %s", d.len ? ", " : "", n, what);
  };
  part(t.null_inputs, "NULL");
  part(t.invalid_inputs, "not a mobile number (not sent)");
  for (int i = 0; i < 12; ++i) {
    if (t.by_code[i] == 0) continue;
    char what[80];
    snprintf(what, sizeof what, "answered by the vendor with code %s", code_meaning(i));
    part(t.by_code[i], what);
  }
  ereport(WARNING,
          (errmsg("qxt_carrier_batch: %ld of %ld rows have no lookup result", failed, total),
           errdetail("%s.", d.data),
           errhint("Those rows have NULL lookup fields; qxt_normalize_mobile() shows which "
                   "inputs cannot be numbers.")));
}

}  // namespace

Datum qxt_carrier_batch(PG_FUNCTION_ARGS) {
  InitMaterializedSRF(fcinfo, 0);
  ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);

  ArrayType* arr = PG_GETARG_ARRAYTYPE_P(0);
  if (ARR_NDIM(arr) > 1)
    ereport(ERROR, (errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
                    errmsg("qxt_carrier_batch takes a one-dimensional array"),
                    errdetail("The array given has %d dimensions.", ARR_NDIM(arr)),
                    errhint("Flatten it first, e.g. ARRAY(SELECT unnest(a)).")));
  Datum* elems = nullptr;
  bool* elem_nulls = nullptr;
  int n = 0;
  deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &elem_nulls, &n);
  if (n == 0) return (Datum)0;
  qxt_refuse_parallel_worker("qxt_carrier_batch");
  qxt_require_vendor_encoding();

  // Normalise every element (pure, allocation-free core code); 0 marks an
  // element that is NULL or cannot be a number: it is never sent.
  uint64* keys = static_cast<uint64*>(palloc_extended(sizeof(uint64) * n, MCXT_ALLOC_HUGE));
  for (int i = 0; i < n; ++i) {
    keys[i] = elem_nulls[i] ? 0
                            : qxt_mobile_key(qxt_text_view(
                                  reinterpret_cast<text*>(DatumGetPointer(elems[i]))));
  }

  // The job lives in a memory context of its own: deleting the context (at
  // the end, or on any error) deletes the job.
  MemoryContext jobcxt = AllocSetContextCreate(CurrentMemoryContext, "qxt_carrier_batch",
                                               ALLOCSET_DEFAULT_SIZES);
  QxtOwnedJob* owned = qxt_owned_job(jobcxt);

  QxtGucSnapshot g = qxt_guc_snapshot();
  QxtStatement stmt = qxt_current_statement();
  // qxt.cache_max_age: young enough rows of qxt_lookups answer instead.
  QxtCachedRow* cached = nullptr;
  int ncached = qxt_cache_fetch(keys, n, g.cache_max_age_s, &cached);
  QxtFailure failure;
  qxt_run_core(&failure, g, [&](const qxt::Settings& s) {
    // Small calls share this statement's memo: a number already answered in
    // this statement is not sent (or paid) again.
    const bool small = static_cast<std::size_t>(n) <= qxt::StatementMemo::kMaxBatchForMemo;
    qxt::StatementMemo& memo = qxt_memo_for(stmt, s);
    std::unordered_map<std::uint64_t, const QxtCachedRow*> index;
    qxt::BatchJob::Known known;
    if (ncached > 0 || small) known = qxt_known_answers(small ? &memo : nullptr, cached, ncached, index);
    auto* job = new qxt::BatchJob(reinterpret_cast<const std::uint64_t*>(keys),
                                  static_cast<std::size_t>(n), s.batch_size, known);
    owned->job = job;
    try {
      qxt_session_client().batch(s, *job, qxt_cancel_requested);
    } catch (...) {
      if (small) memo.put_all(*job);  // what was paid for stays known
      throw;
    }
    if (small) memo.put_all(*job);
  });
  qxt_failure_raise(&failure);
  const qxt::BatchJob* job = owned->job;

  // Emit one row per element, in array order.  Vendor texts are few
  // (areas, carriers): convert each once and reuse its datum.
  MemoryContext oldcxt = MemoryContextSwitchTo(jobcxt);
  std::size_t ntexts = 0;
  Datum* text_cache = nullptr;
  bool* text_done = nullptr;
  text* mobile = static_cast<text*>(palloc(VARHDRSZ + qxt::kMobileDigits));
  SET_VARSIZE(mobile, VARHDRSZ + qxt::kMobileDigits);
  MemoryContextSwitchTo(oldcxt);
  auto cached_text = [&](std::uint32_t id) -> Datum {
    if (id >= ntexts) {
      std::size_t want = id + 64;
      MemoryContext o = MemoryContextSwitchTo(jobcxt);
      text_cache = text_cache ? static_cast<Datum*>(repalloc(text_cache, sizeof(Datum) * want))
                              : static_cast<Datum*>(palloc(sizeof(Datum) * want));
      text_done = text_done ? static_cast<bool*>(repalloc(text_done, want))
                            : static_cast<bool*>(palloc(want));
      for (std::size_t k = ntexts; k < want; ++k) text_done[k] = false;
      ntexts = want;
      MemoryContextSwitchTo(o);
    }
    if (!text_done[id]) {
      std::string_view sv = job->text(id);
      MemoryContext o = MemoryContextSwitchTo(jobcxt);
      text_cache[id] = qxt_vendor_text(sv.data(), sv.size());
      MemoryContextSwitchTo(o);
      text_done[id] = true;
    }
    return text_cache[id];
  };

  FailureTally tally;
  for (int i = 0; i < n; ++i) {
    Datum values[kNatts] = {0, 0, 0, 0, 0};
    bool nulls[kNatts] = {true, true, true, true, true};
    const qxt::CompactResult* r = job ? job->result_for(keys[i]) : nullptr;
    if (keys[i] == 0) {
      if (elem_nulls[i]) ++tally.null_inputs;
      else ++tally.invalid_inputs;
    } else {
      char digits[qxt::kMobileDigits];
      qxt::key_to_digits(keys[i], digits);
      std::memcpy(VARDATA(mobile), digits, qxt::kMobileDigits);
      values[1] = PointerGetDatum(mobile);
      nulls[1] = false;
      if (r != nullptr && r->code == 0) {
        values[0] = Int16GetDatum(r->res);
        nulls[0] = r->res < 0;
        const std::uint32_t ids[3] = {r->area, r->init_isp, r->now_isp};
        for (int f = 0; f < 3; ++f) {
          nulls[2 + f] = ids[f] == 0;
          if (ids[f] != 0) values[2 + f] = cached_text(ids[f]);
        }
      } else {
        tally.add_code(r ? r->code : 0);
      }
    }
    tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    if ((i & 1023) == 0) CHECK_FOR_INTERRUPTS();
  }
  warn_failures(tally, n);
  MemoryContextDelete(jobcxt);
  return (Datum)0;
}
