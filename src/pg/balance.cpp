// qxt_balance(): the account's fee type and remaining balance.
#include "convert.hpp"
#include "qxt_pg.hpp"

extern "C" {
PG_FUNCTION_INFO_V1(qxt_balance);
}

namespace {
// Static storage, not a stack frame (see lookup.cpp).
qxt::BalanceRecord g_balance;
}  // namespace

Datum qxt_balance(PG_FUNCTION_ARGS) {
  InitMaterializedSRF(fcinfo, 0);
  ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
  qxt_require_vendor_encoding();

  QxtGucSnapshot g = qxt_guc_snapshot();
  QxtFailure failure;
  qxt_run_core(&failure, g, [&](const qxt::Settings& s) {
    g_balance = qxt_session_client().balance(s, qxt_cancel_requested);
  });
  qxt_failure_raise(&failure);

  Datum values[2] = {0, 0};
  bool nulls[2] = {false, false};
  const std::string& fee = g_balance.fee_type;
  nulls[0] = fee.empty();
  if (!nulls[0]) values[0] = qxt_vendor_text(fee.data(), fee.size());
  values[1] = Int64GetDatum(static_cast<int64>(g_balance.balance));
  tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
  return (Datum)0;
}
