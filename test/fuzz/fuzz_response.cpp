// libFuzzer target: the response parsers on arbitrary bodies.  Each
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
  // The salvaging batch parser: the same answer as the strict one when that
  // one accepts; otherwise either a refusal as well, or odd elements marked
  // unreadable (empty) among elements read as the strict parser would.
  bool strict_ok = false;
  std::size_t strict_items = 0;
  try {
    strict_items = qxt::parse_batch(body).items.size();
    strict_ok = true;
  } catch (const qxt::QxtError&) {
  }
  try {
    const qxt::BatchResponse b = qxt::parse_batch_salvaging(body);
    check(valid_utf8_without_nul(b.request_reason));
    std::size_t unreadable = 0;
    for (const auto& r : b.items) {
      check_record(r);
      if (r.unreadable) {
        ++unreadable;
        check(r.mobile.empty() && r.area.empty() && r.code == 0 && r.res == -1);
      }
    }
    check(unreadable == b.unreadable);
    check(!strict_ok || (unreadable == 0 && b.items.size() == strict_items));
    check(strict_ok || unreadable > 0);
    if (unreadable > 0) check_error(qxt::QxtError(b.first_unreadable));
  } catch (const qxt::QxtError& e) {
    check(!strict_ok);
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
