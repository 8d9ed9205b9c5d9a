// Parsing of the vendor's response bodies.  Defensive by design: both key
// casings (Init_isp / Init_Isp, and any other case of the documented keys),
// `res` and `code` as string or number, `balance` as string or number, the
// vendor documents' typos (trailing commas; the 2020 edition's extra braces
// around `result`), leading BOM / whitespace.  Anything that is not one of
// the documented shapes raises QxtError with ErrorKind::BadResponse.
#pragma once

#include "core_only.hpp"

#include <string>
#include <string_view>
#include <vector>

#include "errors.hpp"

namespace qxt {

// One answer for one number (single lookup, or one element of a batch).
struct CarrierRecord {
  int code = 0;          // vendor code; 0 = success
  std::string reason;    // vendor's text for the code ("Succ")
  int res = -1;          // 0 not ported, 1 ported, 3 virtual operator; -1 absent
  std::string mobile;    // as the vendor echoed it ("" when absent)
  std::string area;
  std::string init_isp;
  std::string now_isp;
  // A batch element that is valid JSON but not the documented shape
  // (parse_batch_salvaging only): nothing else of it is read, and it is
  // never attributed to a number.
  bool unreadable = false;
};

// The answer to /carrier_batch: either a request-level failure (the body is
// a single object with a non-zero code: request_code != 0, items empty) or
// an array with one element per submitted number (request_code == 0).
struct BatchResponse {
  int request_code = 0;
  std::string request_reason;
  std::vector<CarrierRecord> items;
  // Elements marked unreadable (parse_batch_salvaging), and the error of
  // the first one.
  std::size_t unreadable = 0;
  Error first_unreadable;
};

struct BalanceRecord {
  int code = 0;
  std::string reason;
  std::string fee_type;   // 预付费 / 后付费, as sent
  long long balance = 0;  // may be negative (postpaid)
};

// Throw QxtError(ErrorKind::BadResponse) when the body is not JSON or not
// the documented shape.  A well-formed body with a non-zero code is not an
// error here: the caller maps the code.
CarrierRecord parse_carrier(std::string_view body);
BatchResponse parse_batch(std::string_view body);
BalanceRecord parse_balance(std::string_view body);
// parse_batch, except that an array element that is valid JSON but not the
// documented shape does not spoil the answer: it is marked unreadable and
// the others are read (each success among them was charged).  The whole
// body must still be valid JSON.
BatchResponse parse_batch_salvaging(std::string_view body);

}  // namespace qxt
