#include "lookup_service.hpp"

#include <algorithm>
#include <cstdio>
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
      ++memo_hits_;
      return true;
    }
  }
  auto it = rows_.find(key);
  if (it == rows_.end()) return false;
  const CachedRow& r = *it->second;
  fill(out, r.code, r.res, r.area, r.init_isp, r.now_isp);
  ++cache_hits_;
  return true;
}

CarrierRecord answer_from_cached(std::string_view mobile, const CachedRow& cached) {
  if (cached.code != 0) {
    Error e = vendor_error(Endpoint::Carrier, cached.code, "", mobile);
    e.detail = "qxt_lookups holds the vendor's code " + std::to_string(cached.code) +
               " for this number, younger than qxt.cache_max_age; nothing was sent.";
    throw QxtError(e);
  }
  CarrierRecord r;
  r.res = cached.res;
  r.mobile = std::string(mobile);
  r.area = cached.area;
  r.init_isp = cached.init_isp;
  r.now_isp = cached.now_isp;
  return r;
}

CarrierRecord LookupService::carrier(std::string_view mobile, const CachedRow* cached) {
  if (cached == nullptr) return carrier_once_per_statement(client_, memo_, s_, mobile, cancel_);
  if (s_.http.gate != nullptr) s_.http.gate->known(Endpoint::Carrier, 0, 1);
  return answer_from_cached(mobile, *cached);
}

std::unique_ptr<BatchJob> LookupService::prepare_batch(const std::uint64_t* keys, std::size_t n,
                                                      const CachedRow* rows, std::size_t nrows,
                                                      bool& uses_memo,
                                                      std::size_t* memo_hits,
                                                      std::size_t* cache_hits) const {
  // Small calls share this statement's memo: a number already answered in
  // this statement is not sent (or paid) again.
  uses_memo = n <= StatementMemo::kMaxBatchForMemo;
  const KnownAnswers known(uses_memo ? &memo_ : nullptr, rows, nrows);
  auto job = std::make_unique<BatchJob>(
      keys, n, s_.batch_size, known.empty() ? BatchJob::Known() : BatchJob::Known(std::cref(known)));
  if (memo_hits != nullptr) *memo_hits = known.memo_hits();
  if (cache_hits != nullptr) *cache_hits = known.cache_hits();
  return job;
}

void LookupService::carrier_batch(const std::uint64_t* keys, std::size_t n,
                                  const CachedRow* rows, std::size_t nrows,
                                  const std::function<void(BatchJob*)>& adopt) {
  bool small = false;
  std::size_t memo_hits = 0, cache_hits = 0;
  std::unique_ptr<BatchJob> owned = prepare_batch(keys, n, rows, nrows, small, &memo_hits, &cache_hits);
  BatchJob& job = *owned;
  adopt(owned.release());
  if (s_.http.gate != nullptr) {
    s_.http.gate->known(Endpoint::CarrierBatch, memo_hits, cache_hits);
    // All or nothing: the statement fails when the spending limits cannot
    // pay for every number it would send (the part paid would be lost).
    Error why;
    if (job.to_send() > 0 && !s_.http.gate->preflight(Endpoint::CarrierBatch, job.to_send(), &why))
      throw QxtError(why);
  }
  try {
    client_.batch(s_, job, cancel_);
  } catch (...) {
    if (small) memo_.put_all(job);  // what was paid for stays known
    throw;
  }
  if (small) memo_.put_all(job);
}

BatchEstimate LookupService::estimate_batch(const std::uint64_t* keys, std::size_t n,
                                            const CachedRow* rows, std::size_t nrows) const {
  bool uses_memo = false;
  const std::unique_ptr<BatchJob> job = prepare_batch(keys, n, rows, nrows, uses_memo);
  BatchEstimate e;
  e.rows = n;
  std::size_t valid = 0;
  for (std::size_t i = 0; i < n; ++i)
    if (keys[i] != 0) ++valid;
  e.invalid = n - valid;
  e.duplicates = valid - job->distinct();
  e.known = job->known();
  e.to_send = job->to_send();
  return e;
}

long BatchFailures::failed() const {
  long n = null_inputs + invalid_inputs;
  for (long c : by_code) n += c;
  return n;
}

void BatchFailures::describe(char* buf, std::size_t cap) const noexcept {
  std::size_t len = 0;
  buf[0] = '\0';
  auto part = [&](long n, const char* what) {
    if (n == 0 || len >= cap) return;
    int w = std::snprintf(buf + len, cap - len, "%s%ld %s", len ? ", " : "", n, what);
    if (w > 0) len = std::min(cap - 1, len + static_cast<std::size_t>(w));
  };
  part(null_inputs, "NULL");
  part(invalid_inputs, "not a mobile number (not sent)");
  for (std::size_t i = 0; i <= kVendorCodeCount; ++i) {
    if (by_code[i] == 0) continue;
    char what[80];
    std::snprintf(what, sizeof what, "answered by the vendor with code %s",
                  i < kVendorCodeCount ? kVendorCodes[i].label : "another code");
    part(by_code[i], what);
  }
}

BatchFailures tally_failures(const BatchJob* job, const std::uint64_t* keys, const bool* is_null,
                             std::size_t n) noexcept {
  BatchFailures t;
  for (std::size_t i = 0; i < n; ++i) {
    if (keys[i] == 0) {
      if (is_null[i]) ++t.null_inputs;
      else ++t.invalid_inputs;
      continue;
    }
    const CompactResult* r = job ? job->result_for(keys[i]) : nullptr;
    if (r == nullptr || r->code != 0) ++t.by_code[vendor_code_index(r ? r->code : 0)];
  }
  return t;
}

CarrierRecord carrier_once_per_statement(Client& client, StatementMemo& memo,
                                         const Settings& s, std::string_view mobile,
                                         CancelCheck cancel) {
  const std::uint64_t key = mobile_to_key(mobile);
  if (const CarrierRecord* hit = memo.find(key)) {
    if (s.http.gate != nullptr) s.http.gate->known(Endpoint::Carrier, 1, 0);
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
