#include "batch.hpp"

#include <algorithm>
#include <limits>

#include "errors.hpp"
#include "normalize.hpp"

namespace qxt {

StringTable::StringTable() {
  strings_.emplace_back();
  ids_.emplace(std::string(), 0);
}

std::uint32_t StringTable::intern(std::string_view s) {
  if (s.empty()) return 0;
  auto it = ids_.find(std::string(s));
  if (it != ids_.end()) return it->second;
  if (strings_.size() >= std::numeric_limits<std::uint16_t>::max())
    throw QxtError(make_error(ErrorKind::BadResponse,
                              "the vendor's answers hold implausibly many distinct texts"));
  auto id = static_cast<std::uint32_t>(strings_.size());
  strings_.emplace_back(s);
  ids_.emplace(strings_.back(), id);
  return id;
}

namespace {
inline std::size_t slot_of(std::uint64_t key, std::size_t mask) {
  key ^= key >> 33;
  key *= 0xff51afd7ed558ccdULL;
  key ^= key >> 33;
  return static_cast<std::size_t>(key) & mask;
}
}  // namespace

void DistinctNumbers::reserve(std::size_t n) {
  keys_.reserve(n);
  std::size_t want = 16;
  while (want < n * 2) want <<= 1;
  if (want > table_.size()) {
    table_.assign(want, 0);
    mask_ = want - 1;
    for (std::size_t i = 0; i < keys_.size(); ++i) {
      std::size_t s = slot_of(keys_[i], mask_);
      while (table_[s] != 0) s = (s + 1) & mask_;
      table_[s] = static_cast<std::uint32_t>(i + 1);
    }
  }
}

void DistinctNumbers::grow() { reserve(std::max<std::size_t>(16, keys_.size() * 2)); }

std::uint32_t DistinctNumbers::add(std::uint64_t key) {
  if (table_.empty() || (keys_.size() + 1) * 2 > table_.size()) grow();
  std::size_t s = slot_of(key, mask_);
  while (table_[s] != 0) {
    std::uint32_t idx = table_[s] - 1;
    if (keys_[idx] == key) return idx;
    s = (s + 1) & mask_;
  }
  auto idx = static_cast<std::uint32_t>(keys_.size());
  keys_.push_back(key);
  table_[s] = idx + 1;
  return idx;
}

std::uint32_t DistinctNumbers::find(std::uint64_t key) const {
  if (table_.empty()) return UINT32_MAX;
  std::size_t s = slot_of(key, mask_);
  while (table_[s] != 0) {
    std::uint32_t idx = table_[s] - 1;
    if (keys_[idx] == key) return idx;
    s = (s + 1) & mask_;
  }
  return UINT32_MAX;
}

BatchJob::BatchJob(const std::uint64_t* keys, std::size_t n, std::size_t batch_size,
                   const Known& known)
    : batch_size_(std::clamp<std::size_t>(batch_size, 1, 1000)) {
  for (std::size_t i = 0; i < n; ++i)
    if (keys[i] != 0) numbers_.add(keys[i]);
  results_.resize(numbers_.size());
  send_.reserve(numbers_.size());
  KnownAnswer ans;
  for (std::size_t i = 0; i < numbers_.size(); ++i) {
    std::uint64_t key = numbers_.keys()[i];
    if (known && known(key, ans)) {
      store(static_cast<std::uint32_t>(i), ans.code, ans.res, ans.area, ans.init_isp,
            ans.now_isp);
    } else {
      send_.push_back(key);
    }
  }
}

std::size_t BatchJob::chunk_size(std::size_t chunk) const {
  std::size_t start = chunk * batch_size_;
  return std::min(batch_size_, to_send() - start);
}

void BatchJob::store(std::uint32_t idx, int code, int res, std::string_view area,
                     std::string_view init_isp, std::string_view now_isp) {
  CompactResult& out = results_[idx];
  out.code = static_cast<std::int16_t>(std::clamp(code, -32767, 32767));
  if (code == 0) {
    out.res = static_cast<std::int16_t>(std::clamp(res, -1, 32767));
    out.area = strings_.intern(area);
    out.init_isp = static_cast<std::uint16_t>(strings_.intern(init_isp));
    out.now_isp = static_cast<std::uint16_t>(strings_.intern(now_isp));
  }
}

bool CompactResult::is_answer() const { return code != kNotAsked && !is_account_level(code); }

std::size_t BatchJob::record(std::size_t chunk, const std::vector<CarrierRecord>& items) {
  const std::size_t start = chunk * batch_size_;
  const std::size_t n = chunk_size(chunk);
  const std::uint64_t* asked = send_.data() + start;
  constexpr std::uint32_t kNoMobile = UINT32_MAX;  // the element echoes no Mobile
  constexpr std::uint32_t kForeign = UINT32_MAX - 1;  // not a number of this chunk
  constexpr std::uint32_t kUnreadable = UINT32_MAX - 2;  // not the documented shape

  // Where each element's Mobile points (a position in the chunk), and how
  // many elements name each position.
  std::string problem;  // the first inconsistency, for the message
  auto note = [&](std::string what) {
    if (problem.empty()) problem = std::move(what);
  };
  if (items.size() != n) note("the answer has a different number of elements");
  std::vector<std::uint32_t> by_mobile(items.size(), kNoMobile);
  std::vector<std::uint32_t> named(n, 0);
  std::unordered_map<std::uint64_t, std::uint32_t> position;  // built only when needed
  bool unreadable = false;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (items[i].unreadable) {
      by_mobile[i] = kUnreadable;
      unreadable = true;
      continue;
    }
    if (items[i].mobile.empty()) continue;
    char digits[kMobileDigits];
    if (!normalize_mobile(items[i].mobile, digits)) {
      by_mobile[i] = kForeign;
      note("element " + std::to_string(i + 1) + " names a number that is not valid");
      continue;
    }
    std::uint64_t key = mobile_to_key(std::string_view(digits, kMobileDigits));
    std::uint32_t pos = kForeign;
    if (i < n && asked[i] == key) {
      pos = static_cast<std::uint32_t>(i);
    } else {
      if (position.empty())
        for (std::size_t j = 0; j < n; ++j) position.emplace(asked[j], static_cast<std::uint32_t>(j));
      auto it = position.find(key);
      if (it != position.end()) pos = it->second;
    }
    by_mobile[i] = pos;
    if (pos == kForeign)
      note("element " + std::to_string(i + 1) + " answers a number that was not asked");
    else
      ++named[pos];
  }
  // Positions count only when the answer is otherwise consistent, and
  // every element could be read.
  std::vector<std::uint32_t> claims = named;
  if (problem.empty() && !unreadable)
    for (std::size_t i = 0; i < items.size(); ++i)
      if (by_mobile[i] == kNoMobile) ++claims[i];
  for (std::uint32_t c : claims)
    if (c > 1) note("two elements answer the same number");
  const bool consistent = problem.empty();
  const bool by_position = consistent && !unreadable;

  std::size_t kept = 0;
  for (std::size_t i = 0; i < items.size(); ++i) {
    std::uint32_t pos = by_mobile[i];
    if (pos == kNoMobile) {
      if (!by_position) continue;
      pos = static_cast<std::uint32_t>(i);
    } else if (pos == kForeign || pos == kUnreadable || named[pos] != 1) {
      continue;
    }
    const CarrierRecord& r = items[i];
    store(numbers_.find(asked[pos]), r.code, r.res, r.area, r.init_isp, r.now_isp);
    if (is_account_level(r.code))
      ++refused_;
    else
      ++answered_;
    ++kept;
  }
  if (consistent) return kept;
  throw QxtError(make_error(
      ErrorKind::BatchMismatch, "the vendor's batch answer does not match the request",
      problem + " (request of " + std::to_string(n) + " numbers, answer of " +
          std::to_string(items.size()) + " elements); " +
          (kept > 0 ? std::to_string(kept) + (kept == 1 ? " element" : " elements") +
                          " naming a number asked " + (kept == 1 ? "was" : "were") +
                          " kept, nothing else of that answer was used."
                    : std::string("no element could be attributed safely, none was used.")),
      "Nothing was attributed to a wrong number, and nothing is sent again by itself (the "
      "vendor may have charged the whole request). Retry later; if it persists, report it "
      "to the vendor."));
}

const CompactResult* BatchJob::result_for(std::uint64_t key) const {
  if (key == 0) return nullptr;
  std::uint32_t idx = numbers_.find(key);
  return idx == UINT32_MAX ? nullptr : &results_[idx];
}

}  // namespace qxt
