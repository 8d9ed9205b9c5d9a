// Every way a lookup can fail, as a plain value: the SQLSTATE (five
// characters), a message a person understands, a DETAIL carrying the
// vendor's code and reason, and a HINT saying what to do.  The PostgreSQL
// glue turns an Error into ereport(); the core only builds them.  No text
// built here ever contains the apikey: the key is never passed in.
#pragma once

#include "core_only.hpp"

#include <cstddef>
#include <exception>
#include <string>
#include <string_view>

namespace qxt {

enum class ErrorKind {
  InvalidNumber,      // 22023  rejected locally, or vendor 1/-2/-3 on a lookup
  NoApiKey,           // 28000  qxt.apikey not set (nothing sent)
  KeyRejected,        // 28000  vendor -1 (and 2020-edition -9 "IP not authorised")
  NotFound,           // QX004  vendor -4 on a single lookup
  BalanceExhausted,   // QX005  vendor -5
  AccountDisabled,    // QX006  vendor -6
  VendorSystemError,  // QX008  vendor -8 still failing after retries
  VendorRejected,     // QX001  any other vendor code (1, -7, -9, -10, unknown)
  ConnectFailed,      // 08001  no connection could be made: refused, DNS failure,
                      //        connect timeout (nothing was sent)
  TlsFailure,         // 08001  certificate / handshake failure (separate hint)
  ConnectionLost,     // 08006  the answer was lost after the request went out:
                      //        closed, empty reply, truncated, send/receive error
  Timeout,            // QX101  no complete answer within qxt.timeout_ms after
                      //        the request went out (never retried)
  HttpStatus,         // QX102  an HTTP status other than 200
  ResourceExhausted,  // 53000  no file descriptor left in the backend's budget
  BadResponse,        // QX103  not JSON, or not the documented shape
  ResponseTooLarge,   // QX104  body over the response size cap
  BatchMismatch,      // QX105  batch answer does not match the request
  StatementBudget,    // QX201  qxt.statement_budget would be exceeded (nothing sent)
  DailyBudget,        // QX202  qxt.daily_budget would be exceeded (nothing sent)
  NotPreloaded,       // 55000  a setting that needs shared_preload_libraries
  Cancelled,          // 57014  (the glue raises PostgreSQL's own instead)
  Internal,           // XX000  a bug of ours
};

// The endpoint a failure came from (it changes what a vendor code means).
enum class Endpoint { Carrier, CarrierBatch, Balance };

struct Error {
  ErrorKind kind = ErrorKind::Internal;
  std::string sqlstate;  // five characters, e.g. "22023"
  std::string message;
  std::string detail;    // may be empty
  std::string hint;      // may be empty
  int vendor_code = 0;   // the vendor's code when the vendor said so, else 0
};

// The exception the core throws; the boundary converts it to an Error.
class QxtError : public std::exception {
 public:
  explicit QxtError(Error e) : err_(std::move(e)) {}
  const Error& error() const noexcept { return err_; }
  const char* what() const noexcept override { return err_.message.c_str(); }

 private:
  Error err_;
};

const char* sqlstate_of(ErrorKind kind);

// Builds the error for a vendor code != 0.  `mobile` (may be empty) is the
// number concerned, for single lookups.
Error vendor_error(Endpoint ep, int code, std::string_view reason,
                   std::string_view mobile = {});

// Errors raised by the client itself (transport, parsing, local checks).
// `detail` is plain text without the key.
Error make_error(ErrorKind kind, std::string message, std::string detail = {},
                 std::string hint = {});

// The error for a file-descriptor budget that refused (53000); `detail`
// says what was refused and whether anything was sent.
Error fd_budget_error(std::string detail);

// The one table of the vendor's codes (errors.cpp): one row per documented
// code, read by everything that needs to know what a code means.
struct VendorCode {
  int code;
  ErrorKind kind;      // what it is raised as (-9 naming an IP address: KeyRejected)
  bool account_level;  // concerns the whole account: a batch stops at once and
                       // sends nothing more after it
  bool retryable;      // an explicit "try again" (-8) that charges nothing
  bool charged;        // the vendor may have charged the number it answers
  bool kept;           // a per-number answer: kept in the statement memo and
                       // stored in (and served from) qxt_lookups, like a success
  const char* label;   // in qxt_carrier_batch's closing WARNING
  const char* message; // the error's message; "{number}" names the number
  const char* hint;
};

// The documented codes, in the order the batch WARNING counts them (1,
// then -1 to -10).
constexpr std::size_t kVendorCodeCount = 11;
extern const VendorCode kVendorCodes[kVendorCodeCount];

// The row of `code`, or nullptr for 0 and undocumented codes.
const VendorCode* vendor_code(int code);
// The position of `code`'s row in kVendorCodes, kVendorCodeCount when none.
std::size_t vendor_code_index(int code);

// True for vendor codes that concern the whole account (-1, -5, -6).
bool is_account_level(int vendor_code);

// True for vendor codes that are worth retrying (-8): an explicit refusal
// that charges nothing.
bool is_retryable_vendor_code(int vendor_code);

// True for the vendor's answers about one number (success, and the codes
// marked `kept`): kept in the statement memo and in qxt_lookups.  Request-
// and account-level refusals never are.
bool is_kept_answer(int vendor_code);

// The endpoint's path, for messages ("/carrier").
const char* endpoint_path(Endpoint ep);

}  // namespace qxt
