// The one table from failures to SQLSTATE, message, DETAIL and HINT.
#include "errors.hpp"

#include <string>

namespace qxt {

const char* sqlstate_of(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::InvalidNumber: return "22023";
    case ErrorKind::NoApiKey: return "28000";
    case ErrorKind::KeyRejected: return "28000";
    case ErrorKind::NotFound: return "QX004";
    case ErrorKind::BalanceExhausted: return "QX005";
    case ErrorKind::AccountDisabled: return "QX006";
    case ErrorKind::VendorSystemError: return "QX008";
    case ErrorKind::VendorRejected: return "QX001";
    case ErrorKind::ConnectFailed: return "08001";
    case ErrorKind::TlsFailure: return "08001";
    case ErrorKind::ConnectionLost: return "08006";
    case ErrorKind::Timeout: return "QX101";
    case ErrorKind::HttpStatus: return "QX102";
    case ErrorKind::ResourceExhausted: return "53000";
    case ErrorKind::BadResponse: return "QX103";
    case ErrorKind::ResponseTooLarge: return "QX104";
    case ErrorKind::BatchMismatch: return "QX105";
    case ErrorKind::StatementBudget: return "QX201";
    case ErrorKind::DailyBudget: return "QX202";
    case ErrorKind::NotPreloaded: return "55000";
    case ErrorKind::Cancelled: return "57014";
    case ErrorKind::Internal: return "XX000";
  }
  return "XX000";
}

const char* endpoint_path(Endpoint ep) {
  switch (ep) {
    case Endpoint::Carrier: return "/carrier";
    case Endpoint::CarrierBatch: return "/carrier_batch";
    case Endpoint::Balance: return "/balance";
  }
  return "?";
}

Error make_error(ErrorKind kind, std::string message, std::string detail,
                 std::string hint) {
  Error e;
  e.kind = kind;
  e.sqlstate = sqlstate_of(kind);
  e.message = std::move(message);
  e.detail = std::move(detail);
  e.hint = std::move(hint);
  return e;
}

Error fd_budget_error(std::string detail) {
  return make_error(ErrorKind::ResourceExhausted,
                    "no file descriptor is left for a connection to the vendor",
                    "This backend's budget of file descriptors (PostgreSQL's "
                    "max_files_per_process, shared with its open files) is used up: " +
                        detail,
                    "Raise max_files_per_process, or lower qxt.batch_concurrency.");
}

// One row per documented vendor code.  Code 1 covers a missing parameter,
// a key of the wrong length and a malformed number; numbers are checked
// before they are sent, so on a request of ours it almost always means the
// key.
const VendorCode kVendorCodes[kVendorCodeCount] = {
    // code, kind, account-level, retryable, charged, kept, label, message, hint
    {1, ErrorKind::VendorRejected, false, false, false, false, "1 (malformed number)",
     "the vendor rejected the request: a parameter is missing or has the wrong length",
     "Check that the key (qxt.apikey_file or qxt.apikey) is the full 32-character key issued "
     "by the vendor (numbers are checked before they are sent)."},
    {-1, ErrorKind::KeyRejected, true, false, false, false, "-1",
     "the vendor rejected the API key",
     "Check the key (qxt.apikey_file or qxt.apikey): it must be the key of an account at "
     "the vendor (see the README's Security section)."},
    {-2, ErrorKind::InvalidNumber, false, false, true, true, "-2 (wrong length)",
     "the vendor says {number} is not a valid mobile number",
     "Pass an 11-digit Chinese mobile number."},
    {-3, ErrorKind::InvalidNumber, false, false, true, true, "-3 (not a mobile number)",
     "the vendor says {number} is not a valid mobile number",
     "Pass an 11-digit Chinese mobile number."},
    {-4, ErrorKind::NotFound, false, false, true, true, "-4 (no information found)",
     "the vendor has no information for {number}",
     "Check the number; the vendor finds no carrier for it."},
    {-5, ErrorKind::BalanceExhausted, true, false, false, false, "-5",
     "the vendor account's balance is too low for this lookup",
     "Top up the account with the vendor; SELECT * FROM qxt_balance() shows what is left."},
    {-6, ErrorKind::AccountDisabled, true, false, false, false, "-6",
     "the vendor account is disabled", "Contact the vendor to re-enable the account."},
    {-7, ErrorKind::VendorRejected, false, false, false, false, "-7",
     "the vendor refused the request method",
     "This is a client bug: the batch endpoint must be called with POST. Please report it."},
    {-8, ErrorKind::VendorSystemError, false, true, false, false, "-8 (vendor system error)",
     "the vendor reported a system error and retries did not clear it",
     "Try again later; qxt.max_retries sets how often a call is retried."},
    {-9, ErrorKind::VendorRejected, false, false, false, false, "-9",
     "the vendor rejected the request body as malformed JSON",
     "This is a client bug, or the vendor's older edition using -9 for an unauthorised IP "
     "address; check with the vendor and report it."},
    {-10, ErrorKind::VendorRejected, false, false, false, false, "-10",
     "the vendor refused a batch of more than 1000 numbers",
     "Set qxt.batch_size to 1000 or less."},
};
std::size_t vendor_code_index(int code) {
  std::size_t i = 0;
  while (i < kVendorCodeCount && kVendorCodes[i].code != code) ++i;
  return i;
}

const VendorCode* vendor_code(int code) {
  const std::size_t i = vendor_code_index(code);
  return i < kVendorCodeCount ? &kVendorCodes[i] : nullptr;
}

bool is_account_level(int code) {
  const VendorCode* v = vendor_code(code);
  return v != nullptr && v->account_level;
}

bool is_retryable_vendor_code(int code) {
  const VendorCode* v = vendor_code(code);
  return v != nullptr && v->retryable;
}

bool is_kept_answer(int code) {
  if (code == 0) return true;
  const VendorCode* v = vendor_code(code);
  return v != nullptr && v->kept;
}

namespace {

std::string vendor_detail(Endpoint ep, int code, std::string_view reason) {
  std::string d = "The vendor answered code ";
  d += std::to_string(code);
  if (!reason.empty()) {
    d += " (\"";
    d += reason;
    d += "\")";
  }
  d += " to ";
  d += endpoint_path(ep);
  d += ".";
  return d;
}

bool is_ascii_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// True when the reason names an IP address: "ip" / "IP" not inside an ASCII
// word ("ip地址鉴权失败" yes, "description" or "zip" no).
bool mentions_ip(std::string_view reason) {
  for (std::size_t i = 0; i + 1 < reason.size(); ++i) {
    char a = reason[i], b = reason[i + 1];
    if ((a == 'i' || a == 'I') && (b == 'p' || b == 'P') &&
        (i == 0 || !is_ascii_letter(reason[i - 1])) &&
        (i + 2 >= reason.size() || !is_ascii_letter(reason[i + 2])))
      return true;
  }
  return false;
}

// `text` with "{number}" replaced by the number concerned.
std::string with_number(const char* text, std::string_view mobile) {
  std::string out = text;
  const std::string num =
      mobile.empty() ? std::string("the number") : "number " + std::string(mobile);
  const std::size_t at = out.find("{number}");
  if (at != std::string::npos) out.replace(at, 8, num);
  return out;
}

// The message, DETAIL and HINT for a vendor code (vendor_error adds the code).
Error vendor_error_text(Endpoint ep, int code, std::string_view reason,
                        std::string_view mobile) {
  std::string detail = vendor_detail(ep, code, reason);
  // The vendor's 2020 edition used -9 for "IP address not authorised".
  if (code == -9 && mentions_ip(reason))
    return make_error(ErrorKind::KeyRejected, "the vendor refused this server's IP address",
                      detail,
                      "Ask the vendor to authorise this server's public IP address for the "
                      "account.");
  if (const VendorCode* v = vendor_code(code))
    return make_error(v->kind, with_number(v->message, mobile), detail, v->hint);
  return make_error(ErrorKind::VendorRejected,
                    "the vendor answered with an undocumented error code", detail,
                    "Contact the vendor with the code shown.");
}

}  // namespace

Error vendor_error(Endpoint ep, int code, std::string_view reason,
                   std::string_view mobile) {
  Error e = vendor_error_text(ep, code, reason, mobile);
  e.vendor_code = code;
  return e;
}

}  // namespace qxt
