#include "lookup_service.hpp"

#include <memory>
#include <string>

#include "normalize.hpp"

namespace qxt {

namespace {

void fill(KnownAnswer& out, int code, int res, std::string_view area,
          std::string_view init_isp, std::string_view now_isp) {
  out.code = static_cast<std::int16_t>(code);
  out.res = static_cast<std::int16_t>(res);
  out.area = area;
  out.init_isp = init_isp;
  out.now_isp = now_isp;
}

}  // namespace

KnownAnswers::KnownAnswers(const StatementMemo* memo, const CachedRow* rows, std::size_t nrows)
    : memo_(memo) {
  rows_.reserve(nrows);
  for (std::size_t i = 0; i < nrows; ++i) rows_.emplace(rows[i].key, &rows[i]);
}

bool KnownAnswers::operator()(std::uint64_t key, KnownAnswer& out) const {
  if (memo_ != nullptr) {
    if (const CarrierRecord* r = memo_->find(key)) {
      fill(out, r->code, r->res, r->area, r->init_isp, r->now_isp);
      return true;
    }
  }
  auto it = rows_.find(key);
  if (it == rows_.end()) return false;
  const CachedRow& r = *it->second;
  fill(out, r.code, r.res, r.area, r.init_isp, r.now_isp);
  return true;
}

CarrierRecord LookupService::carrier(std::string_view mobile, const CachedRow* cached) {
  if (cached == nullptr) return carrier_once_per_statement(client_, memo_, s_, mobile, cancel_);
  if (cached->code != 0) {
    Error e = vendor_error(Endpoint::Carrier, cached->code, "", mobile);
    e.detail = "qxt_lookups holds the vendor's code " + std::to_string(cached->code) +
               " for this number, younger than qxt.cache_max_age; nothing was sent.";
    throw QxtError(e);
  }
  CarrierRecord r;
  r.res = cached->res;
  r.mobile = std::string(mobile);
  r.area = cached->area;
  r.init_isp = cached->init_isp;
  r.now_isp = cached->now_isp;
  return r;
}

void LookupService::carrier_batch(const std::uint64_t* keys, std::size_t n,
                                  const CachedRow* rows, std::size_t nrows,
                                  const std::function<void(BatchJob*)>& adopt) {
  // Small calls share this statement's memo: a number already answered in
  // this statement is not sent (or paid) again.
  const bool small = n <= StatementMemo::kMaxBatchForMemo;
  const KnownAnswers known(small ? &memo_ : nullptr, rows, nrows);
  auto owned = std::make_unique<BatchJob>(
      keys, n, s_.batch_size, known.empty() ? BatchJob::Known() : BatchJob::Known(std::cref(known)));
  BatchJob& job = *owned;
  adopt(owned.release());
  try {
    client_.batch(s_, job, cancel_);
  } catch (...) {
    if (small) memo_.put_all(job);  // what was paid for stays known
    throw;
  }
  if (small) memo_.put_all(job);
}

CarrierRecord carrier_once_per_statement(Client& client, StatementMemo& memo,
                                         const Settings& s, std::string_view mobile,
                                         CancelCheck cancel) {
  const std::uint64_t key = mobile_to_key(mobile);
  if (const CarrierRecord* hit = memo.find(key)) {
    if (hit->code != 0)
      throw QxtError(vendor_error(Endpoint::Carrier, hit->code, hit->reason, mobile));
    return *hit;
  }
  try {
    CarrierRecord r = client.carrier(s, mobile, cancel);
    memo.put(key, r);
    return r;
  } catch (const QxtError& e) {
    if (e.error().vendor_code != 0 && StatementMemo::memorable(e.error().vendor_code)) {
      CarrierRecord failed;
      failed.code = e.error().vendor_code;
      failed.mobile = std::string(mobile);
      memo.put(key, failed);
    }
    throw;
  }
}

}  // namespace qxt
