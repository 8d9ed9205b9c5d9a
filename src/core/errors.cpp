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

bool is_account_level(int code) { return code == -1 || code == -5 || code == -6; }

bool is_retryable_vendor_code(int code) { return code == -8; }

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

// The message, DETAIL and HINT for a vendor code (vendor_error adds the code).
Error vendor_error_text(Endpoint ep, int code, std::string_view reason,
                        std::string_view mobile) {
  std::string detail = vendor_detail(ep, code, reason);
  std::string num = mobile.empty() ? std::string("the number")
                                   : "number " + std::string(mobile);
  switch (code) {
    case 1:
      // Code 1 covers a missing parameter, a key of the wrong length and a
      // malformed number.  Numbers are checked before they are sent, so on
      // a request of ours it almost always means the key.
      return make_error(ErrorKind::VendorRejected,
                        "the vendor rejected the request: a parameter is missing "
                        "or has the wrong length",
                        detail,
                        "Check that the key (qxt.apikey_file or qxt.apikey) is the "
                        "full 32-character key issued by the vendor (numbers are "
                        "checked before they are sent).");
    case -1:
      return make_error(ErrorKind::KeyRejected, "the vendor rejected the API key",
                        detail,
                        "Check the key (qxt.apikey_file or qxt.apikey): it must be "
                        "the key of an account at the vendor (see the README's "
                        "Security section).");
    case -2:
    case -3:
      return make_error(ErrorKind::InvalidNumber,
                        "the vendor says " + num + " is not a valid mobile number",
                        detail, "Pass an 11-digit Chinese mobile number.");
    case -4:
      return make_error(ErrorKind::NotFound,
                        "the vendor has no information for " + num, detail,
                        "Check the number; the vendor finds no carrier for it.");
    case -5:
      return make_error(ErrorKind::BalanceExhausted,
                        "the vendor account's balance is too low for this lookup",
                        detail,
                        "Top up the account with the vendor; SELECT * FROM "
                        "qxt_balance() shows what is left.");
    case -6:
      return make_error(ErrorKind::AccountDisabled,
                        "the vendor account is disabled", detail,
                        "Contact the vendor to re-enable the account.");
    case -7:
      return make_error(ErrorKind::VendorRejected,
                        "the vendor refused the request method", detail,
                        "This is a client bug: the batch endpoint must be called "
                        "with POST. Please report it.");
    case -8:
      return make_error(ErrorKind::VendorSystemError,
                        "the vendor reported a system error and retries did not "
                        "clear it",
                        detail,
                        "Try again later; qxt.max_retries sets how often a call is "
                        "retried.");
    case -9:
      if (mentions_ip(reason))
        return make_error(ErrorKind::KeyRejected,
                          "the vendor refused this server's IP address", detail,
                          "Ask the vendor to authorise this server's public IP "
                          "address for the account.");
      return make_error(ErrorKind::VendorRejected,
                        "the vendor rejected the request body as malformed JSON",
                        detail,
                        "This is a client bug, or the vendor's older edition "
                        "using -9 for an unauthorised IP address; check with the "
                        "vendor and report it.");
    case -10:
      return make_error(ErrorKind::VendorRejected,
                        "the vendor refused a batch of more than 1000 numbers",
                        detail, "Set qxt.batch_size to 1000 or less.");
    default:
      return make_error(ErrorKind::VendorRejected,
                        "the vendor answered with an undocumented error code",
                        detail, "Contact the vendor with the code shown.");
  }
}

}  // namespace

Error vendor_error(Endpoint ep, int code, std::string_view reason,
                   std::string_view mobile) {
  Error e = vendor_error_text(ep, code, reason, mobile);
  e.vendor_code = code;
  return e;
}

}  // namespace qxt
