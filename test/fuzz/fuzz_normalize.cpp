// libFuzzer target: normalize_mobile() on arbitrary bytes.  An accepted input
// yields ^1[3-9][0-9]{9}$, both forms agree, the result is a fixed point, and
// the integer key round-trips.  Anything else is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "normalize.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  char out[qxt::kMobileDigits];
  const bool ok = qxt::normalize_mobile(in, out);
  const auto s = qxt::normalize_mobile(in);
  if (ok != s.has_value()) std::abort();
  if (!ok) return 0;
  const std::string digits(out, qxt::kMobileDigits);
  if (digits != *s) std::abort();
  if (digits[0] != '1' || digits[1] < '3' || digits[1] > '9') std::abort();
  for (char c : digits)
    if (c < '0' || c > '9') std::abort();
  if (qxt::normalize_mobile(digits) != s) std::abort();
  if (qxt::key_to_mobile(qxt::mobile_to_key(digits)) != digits) std::abort();
  // Every digit of the result came from the input, in order.
  std::size_t j = 0;
  for (char c : in)
    if (j < digits.size() && c == digits[j]) ++j;
  if (j != digits.size()) std::abort();
  return 0;
}
