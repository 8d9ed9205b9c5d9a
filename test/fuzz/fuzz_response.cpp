// libFuzzer target: the three response parsers on arbitrary bodies.  Each
// may only return a record or throw QxtError(BadResponse); every string it
// returns is valid UTF-8 without NUL; res is -1 or 0..999.  Anything else
// (crash, sanitizer report, other exception) is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "errors.hpp"
#include "response.hpp"
#include "../common/utf8_check.hpp"

namespace {

using qxt_test::valid_utf8_without_nul;

void check(bool ok) {
  if (!ok) std::abort();
}

void check_record(const qxt::CarrierRecord& r) {
  check(r.res == -1 || (r.res >= 0 && r.res <= 999));
  for (const std::string* s : {&r.reason, &r.mobile, &r.area, &r.init_isp, &r.now_isp})
    check(valid_utf8_without_nul(*s));
}

void check_error(const qxt::QxtError& e) {
  const qxt::Error& err = e.error();
  check(err.kind == qxt::ErrorKind::BadResponse);
  check(!err.message.empty() && !err.hint.empty() && !err.detail.empty());
  check(valid_utf8_without_nul(err.message) && valid_utf8_without_nul(err.detail));
  check(err.detail.size() < 600);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  try {
    check_record(qxt::parse_carrier(body));
  } catch (const qxt::QxtError& e) {
    check_error(e);
  }
  try {
    const qxt::BatchResponse b = qxt::parse_batch(body);
    check(b.request_code == 0 || b.items.empty());
    check(valid_utf8_without_nul(b.request_reason));
    for (const auto& r : b.items) check_record(r);
  } catch (const qxt::QxtError& e) {
    check_error(e);
  }
  try {
    const qxt::BalanceRecord b = qxt::parse_balance(body);
    check(valid_utf8_without_nul(b.reason) && valid_utf8_without_nul(b.fee_type));
  } catch (const qxt::QxtError& e) {
    check_error(e);
  }
  return 0;
}
