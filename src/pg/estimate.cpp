// qxt_estimate(text[]): what qxt_carrier_batch(the same array) would send
// and pay for, sending nothing but the free /balance call.  The array is
// read by the batch's own reader (qxt_batch_keys), the cached rows by the
// batch's own cache read (qxt_cache_fetch under qxt.cache_max_age), and the
// counting is the lookup service's estimate_batch, which builds the very
// job carrier_batch would run (prepare_batch) and counts it instead of
// running it: no second implementation that could drift.
#include "convert.hpp"
#include "qxt_pg.hpp"

extern "C" {
PG_FUNCTION_INFO_V1(qxt_estimate);
}

namespace {
constexpr int kNatts = 6;  // rows, invalid, duplicates, cached, to_pay, balance
}  // namespace

Datum qxt_estimate(PG_FUNCTION_ARGS) {
  InitMaterializedSRF(fcinfo, 0);
  ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);

  bool* elem_nulls = nullptr;
  int n = 0;
  uint64* keys = qxt_batch_keys(PG_GETARG_ARRAYTYPE_P(0), "qxt_estimate", &elem_nulls, &n);
  // As the batch: in a parallel worker, or where the vendor's text cannot be
  // stored, the batch would refuse, so the estimate does too.
  qxt_refuse_parallel_worker("qxt_estimate");
  qxt_require_vendor_encoding();

  QxtGucSnapshot g = qxt_guc_snapshot();
  QxtStatement stmt = qxt_current_statement();
  QxtCachedRow* cached = nullptr;
  int ncached = n > 0 ? qxt_cache_fetch(keys, n, g.cache_max_age_s, &cached) : 0;
  QxtFailure failure;
  qxt::BatchEstimate est;  // plain data
  qxt_run_core(&failure, g, [&](const qxt::Settings& s) {
    const auto* k = reinterpret_cast<const std::uint64_t*>(keys);
    qxt::LookupService svc(qxt_session_client(), qxt_memo_for(stmt, s), s, qxt_cancel_requested);
    est = svc.estimate_batch(k, static_cast<std::size_t>(n), cached,
                             static_cast<std::size_t>(ncached));
  });
  qxt_failure_raise(&failure);

  int64 balance = 0;
  const bool have_balance = qxt_balance_or_warn(g, "qxt_estimate", &balance);

  Datum values[kNatts] = {
      Int64GetDatum(static_cast<int64>(est.rows)),    Int64GetDatum(static_cast<int64>(est.invalid)),
      Int64GetDatum(static_cast<int64>(est.duplicates)), Int64GetDatum(static_cast<int64>(est.known)),
      Int64GetDatum(static_cast<int64>(est.to_send)), Int64GetDatum(balance)};
  bool nulls[kNatts] = {false, false, false, false, false, !have_balance};
  tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
  return (Datum)0;
}
