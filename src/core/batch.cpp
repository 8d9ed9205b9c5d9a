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

void BatchJob::record(std::size_t chunk, const std::vector<CarrierRecord>& items) {
  const std::size_t start = chunk * batch_size_;
  const std::size_t n = chunk_size(chunk);
  const std::uint64_t* asked = send_.data() + start;
  auto mismatch = [&](std::string what) {
    return QxtError(make_error(
        ErrorKind::BatchMismatch, "the vendor's batch answer does not match the request",
        what + " (request of " + std::to_string(n) + " numbers, answer of " +
            std::to_string(items.size()) + " elements); no answer of that request was used.",
        "Nothing was attributed to a wrong number. Retry later; if it persists, "
        "report it to the vendor."));
  };
  if (items.size() != n) throw mismatch("the answer has a different number of elements");

  // Attribute each element to a requested number: by its Mobile when the
  // vendor echoes one (so a reordered answer is still right), by position
  // only when it does not.  Validate everything before recording anything.
  std::vector<std::uint32_t> target(n);
  std::vector<bool> seen(n, false);
  std::unordered_map<std::uint64_t, std::uint32_t> position;  // built only if reordered
  for (std::size_t i = 0; i < n; ++i) {
    std::size_t pos = i;
    if (!items[i].mobile.empty()) {
      char digits[kMobileDigits];
      if (!normalize_mobile(items[i].mobile, digits))
        throw mismatch("element " + std::to_string(i + 1) + " names a number that is not valid");
      std::uint64_t key = mobile_to_key(std::string_view(digits, kMobileDigits));
      if (key != asked[i]) {
        if (position.empty())
          for (std::size_t j = 0; j < n; ++j) position.emplace(asked[j], static_cast<std::uint32_t>(j));
        auto it = position.find(key);
        if (it == position.end())
          throw mismatch("element " + std::to_string(i + 1) + " answers a number that was not asked");
        pos = it->second;
      }
    }
    if (seen[pos]) throw mismatch("two elements answer the same number");
    seen[pos] = true;
    target[i] = numbers_.find(asked[pos]);
  }
  for (std::size_t i = 0; i < n; ++i) {
    const CarrierRecord& r = items[i];
    store(target[i], r.code, r.res, r.area, r.init_isp, r.now_isp);
    ++answered_;
  }
}

const CompactResult* BatchJob::result_for(std::uint64_t key) const {
  if (key == 0) return nullptr;
  std::uint32_t idx = numbers_.find(key);
  return idx == UINT32_MAX ? nullptr : &results_[idx];
}

}  // namespace qxt
