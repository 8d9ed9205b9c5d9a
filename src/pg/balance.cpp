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

bool qxt_balance_or_warn(const QxtGucSnapshot& g, const char* who, int64* balance) {
  QxtFailure failure;
  // No key at all is the configuration's fault, not the call's: raised
  // (28000, nothing sent), as every function that needs the key does.
  if (g.apikey[0] == '\0') {
    qxt_run_core(&failure, g, [](const qxt::Settings& s) { qxt::require_key(s); });
    qxt_failure_raise(&failure);
  }
  long long got = 0;  // plain data
  qxt_run_core(&failure, g, [&](const qxt::Settings& s) {
    got = qxt_session_client().balance(s, qxt_cancel_requested).balance;
  });
  if (!failure.failed) {
    *balance = static_cast<int64>(got);
    return true;
  }
  if (failure.cancelled) qxt_failure_raise(&failure);  // does not return
  // The client masks the key in every text of a failure (client.cpp).
  const char* st = failure.sqlstate;
  ereport(WARNING,
          (errcode(MAKE_SQLSTATE(st[0], st[1], st[2], st[3], st[4])),
           errmsg("%s: the balance could not be read (SQLSTATE %s): %s", who, st,
                  qxt_to_server(failure.message)),
           failure.detail[0] ? errdetail("%s", qxt_to_server(failure.detail)) : 0,
           errhint("The counts are complete; the balance is left NULL. /balance is free: "
                   "SELECT * FROM qxt_balance() asks again.")));
  return false;
}
