// qxt_carrier(text) and qxt_carrier_batch(text[]): argument reading, the
// cached rows (cache.cpp), the core's lookup service (lookup_service.hpp)
// inside the boundary, and the result rows.  Where an answer comes from is
// decided in the service, not here.
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
  uint64 key = qxt::mobile_to_key(std::string_view(digits, qxt::kMobileDigits));
  QxtCachedRow* cached = nullptr;
  int ncached = qxt_cache_fetch(&key, 1, g.cache_max_age_s, &cached);
  QxtFailure failure;
  qxt_run_core(&failure, g, [&](const qxt::Settings& s) {
    qxt::LookupService svc(qxt_session_client(), qxt_memo_for(stmt, s), s, qxt_cancel_requested);
    g_single = svc.carrier(std::string_view(digits, qxt::kMobileDigits),
                           ncached == 1 ? cached : nullptr);
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

// Tallies of rows without an answer, for the closing WARNING: one count per
// row of the vendor-code table (errors.hpp), then one for any other code.
struct FailureTally {
  long null_inputs = 0;
  long invalid_inputs = 0;
  long by_code[qxt::kVendorCodeCount + 1] = {};
  long failed() const {
    long n = null_inputs + invalid_inputs;
    for (long c : by_code) n += c;
    return n;
  }
  void add_code(int code) { ++by_code[qxt::vendor_code_index(code)]; }
};

const char* code_meaning(std::size_t idx) {
  return idx < qxt::kVendorCodeCount ? qxt::kVendorCodes[idx].label : "another code";
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
  for (std::size_t i = 0; i <= qxt::kVendorCodeCount; ++i) {
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

// Vendor texts are few (areas, carriers): each is converted once, in the
// job's context, and its datum reused.
class TextDatums {
 public:
  TextDatums(MemoryContext cxt, const qxt::BatchJob* job) : cxt_(cxt), job_(job) {}
  Datum get(std::uint32_t id) {
    MemoryContext old = MemoryContextSwitchTo(cxt_);
    if (id >= n_) {
      std::size_t want = id + 64;
      datums_ = datums_ ? static_cast<Datum*>(repalloc(datums_, sizeof(Datum) * want))
                        : static_cast<Datum*>(palloc(sizeof(Datum) * want));
      done_ = done_ ? static_cast<bool*>(repalloc(done_, want)) : static_cast<bool*>(palloc(want));
      for (std::size_t k = n_; k < want; ++k) done_[k] = false;
      n_ = want;
    }
    if (!done_[id]) {
      std::string_view sv = job_->text(id);
      datums_[id] = qxt_vendor_text(sv.data(), sv.size());
      done_[id] = true;
    }
    MemoryContextSwitchTo(old);
    return datums_[id];
  }

 private:
  MemoryContext cxt_;
  const qxt::BatchJob* job_;
  std::size_t n_ = 0;
  Datum* datums_ = nullptr;
  bool* done_ = nullptr;
};

// One row per element, in array order; the rows without an answer tallied.
void emit_rows(ReturnSetInfo* rsinfo, MemoryContext jobcxt, const qxt::BatchJob* job,
               const uint64* keys, const bool* elem_nulls, int n) {
  TextDatums texts(jobcxt, job);
  text* mobile = static_cast<text*>(MemoryContextAlloc(jobcxt, VARHDRSZ + qxt::kMobileDigits));
  SET_VARSIZE(mobile, VARHDRSZ + qxt::kMobileDigits);
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
          if (ids[f] != 0) values[2 + f] = texts.get(ids[f]);
        }
      } else {
        tally.add_code(r ? r->code : 0);
      }
    }
    tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    if ((i & 1023) == 0) CHECK_FOR_INTERRUPTS();
  }
  warn_failures(tally, n);
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
  QxtCachedRow* cached = nullptr;
  int ncached = qxt_cache_fetch(keys, n, g.cache_max_age_s, &cached);
  QxtFailure failure;
  qxt_run_core(&failure, g, [&](const qxt::Settings& s) {
    qxt::LookupService svc(qxt_session_client(), qxt_memo_for(stmt, s), s, qxt_cancel_requested);
    svc.carrier_batch(reinterpret_cast<const std::uint64_t*>(keys), static_cast<std::size_t>(n),
                      cached, static_cast<std::size_t>(ncached),
                      [owned](qxt::BatchJob* job) { owned->job = job; });
  });
  qxt_failure_raise(&failure);
  emit_rows(rsinfo, jobcxt, owned->job, keys, elem_nulls, n);
  MemoryContextDelete(jobcxt);
  return (Datum)0;
}
