#include "client.hpp"

#include <curl/curl.h>

#include <optional>

#include "normalize.hpp"
#include "request.hpp"

namespace qxt {

namespace {

constexpr const char* kForm = "application/x-www-form-urlencoded; charset=utf-8";
constexpr const char* kJson = "application/json; charset=utf-8";

std::string where(const HttpConfig& cfg, Endpoint ep) {
  return cfg.base_url + endpoint_path(ep);
}

[[noreturn]] void throw_cancelled() {
  throw QxtError(make_error(ErrorKind::Cancelled, "canceling statement due to user request"));
}

// Drives one request with retries; `accept` parses a 200 answer and returns
// true when done, false to retry (vendor -8), filling `failure` when the
// retry budget is spent.
template <typename Accept>
void run_one(HttpPool& pool, const Settings& s, Endpoint ep, std::string body,
             const char* content_type, CancelCheck cancel, Accept accept) {
  std::optional<Error> failure;
  auto make = [&](std::size_t) { return HttpRequest{endpoint_path(ep), body, content_type}; };
  auto on_result = [&](std::size_t, Transfer& t, bool final_attempt) {
    TransferVerdict tv;
    if (!classify_transfer(t, ep, s.http, tv)) {
      if (tv.retry && !final_attempt) return Verdict::Retry;
      failure = tv.error;
      return Verdict::Stop;
    }
    Error err;
    bool retry = false;
    if (accept(t, err, retry)) return Verdict::Done;
    if (retry && !final_attempt) return Verdict::Retry;
    failure = err;
    return Verdict::Stop;
  };
  RunStatus st = pool.run(s.http, 1, make, on_result, cancel);
  if (st == RunStatus::Cancelled) throw_cancelled();
  if (failure) throw QxtError(*failure);
}

void require_key(const Settings& s) {
  if (s.apikey.empty())
    throw QxtError(make_error(
        ErrorKind::NoApiKey, "qxt.apikey is not set", "No request was sent.",
        "A superuser sets the vendor key with ALTER SYSTEM SET qxt.apikey = '...' "
        "followed by SELECT pg_reload_conf(); see the README's Security section."));
}

// Parses with the endpoint's parser, turning a parse failure into a
// BadResponse that names the endpoint and the Content-Type.
template <typename Parse>
auto parse_or_explain(Parse parse, const Transfer& t, const HttpConfig& cfg, Endpoint ep)
    -> decltype(parse(std::string_view())) {
  try {
    return parse(t.body);
  } catch (const QxtError& e) {
    Error err = e.error();
    std::string d = "From " + where(cfg, ep) + " (Content-Type: " +
                    (t.content_type.empty() ? std::string("none") : t.content_type) + "). " +
                    err.detail;
    err.detail = std::move(d);
    if (err.hint.empty())
      err.hint = "The vendor, or something between it and this server, sent an answer "
                 "that is not the documented JSON. Check qxt.base_url and retry later.";
    throw QxtError(err);
  }
}

}  // namespace

bool classify_transfer(const Transfer& t, Endpoint ep, const HttpConfig& cfg,
                       TransferVerdict& out) {
  const std::string url = where(cfg, ep);
  if (t.curl_code != CURLE_OK) {
    out.retry = is_transient_transfer(t);
    auto rc = static_cast<CURLcode>(t.curl_code);
    std::string detail = "libcurl: " + t.curl_error + " (" + url + ").";
    if (t.too_large || rc == CURLE_FILESIZE_EXCEEDED) {
      out.retry = false;
      out.error = make_error(ErrorKind::ResponseTooLarge,
                             "the vendor's answer is larger than the client accepts",
                             "The answer from " + url + " exceeded " +
                                 std::to_string(cfg.max_response_bytes) + " bytes.",
                             "Check qxt.base_url: the vendor's answers are far smaller.");
      return false;
    }
    switch (rc) {
      case CURLE_COULDNT_RESOLVE_HOST:
      case CURLE_COULDNT_RESOLVE_PROXY:
      case CURLE_COULDNT_CONNECT:
        out.error = make_error(ErrorKind::ConnectFailed, "could not connect to the vendor",
                               detail,
                               "Check qxt.base_url and this server's network access to "
                               "the vendor; retries were made (qxt.max_retries).");
        return false;
      case CURLE_OPERATION_TIMEDOUT:
        if (!t.connected) {
          out.error = make_error(ErrorKind::ConnectFailed,
                                 "could not connect to the vendor within "
                                 "qxt.connect_timeout_ms (" +
                                     std::to_string(cfg.connect_timeout_ms) + " ms)",
                                 detail,
                                 "Check the network path to the vendor, or raise "
                                 "qxt.connect_timeout_ms.");
        } else {
          out.error = make_error(ErrorKind::Timeout,
                                 "the vendor did not answer within qxt.timeout_ms (" +
                                     std::to_string(cfg.timeout_ms) + " ms)",
                                 detail + " A request that timed out is not retried: "
                                          "the vendor may have charged it.",
                                 "Retry later, or raise qxt.timeout_ms.");
        }
        return false;
      case CURLE_PEER_FAILED_VERIFICATION:
      case CURLE_SSL_CONNECT_ERROR:
      case CURLE_SSL_CACERT_BADFILE:
      case CURLE_SSL_CERTPROBLEM:
      case CURLE_SSL_CIPHER:
      case CURLE_SSL_ISSUER_ERROR:
      case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
      case CURLE_SSL_INVALIDCERTSTATUS:
      case CURLE_USE_SSL_FAILED:
        out.error = make_error(ErrorKind::TlsFailure,
                               "could not establish a trusted TLS connection to the vendor",
                               detail,
                               "The vendor's certificate was not accepted. A superuser can "
                               "set qxt.ca_file to the CA that signed it.");
        return false;
      case CURLE_GOT_NOTHING:
      case CURLE_SEND_ERROR:
      case CURLE_RECV_ERROR:
      case CURLE_PARTIAL_FILE:
        out.error = make_error(ErrorKind::ConnectionLost,
                               "the connection to the vendor broke before a complete answer",
                               detail, "Retry later; retries were made (qxt.max_retries).");
        return false;
      default:
        out.error = make_error(ErrorKind::ConnectionLost, "the request to the vendor failed",
                               detail, "Check qxt.base_url and retry later.");
        return false;
    }
  }
  if (t.http_status != 200) {
    out.retry = t.http_status >= 500 || t.http_status == 429;
    std::string detail = "HTTP status " + std::to_string(t.http_status) + " from " + url + ".";
    out.error = make_error(
        ErrorKind::HttpStatus,
        "the vendor answered with HTTP status " + std::to_string(t.http_status), detail,
        out.retry ? "The vendor is overloaded or down; retries were made (qxt.max_retries). "
                    "Retry later."
                  : "Check qxt.base_url: it must point at the vendor's API.");
    return false;
  }
  return true;
}

CarrierRecord Client::carrier(const Settings& s, std::string_view mobile, CancelCheck cancel) {
  require_key(s);
  CarrierRecord result;
  run_one(pool_, s, Endpoint::Carrier, form_body(s.apikey, mobile), kForm, cancel,
          [&](const Transfer& t, Error& err, bool& retry) {
            CarrierRecord r = parse_or_explain(parse_carrier, t, s.http, Endpoint::Carrier);
            if (r.code != 0) {
              retry = is_retryable_vendor_code(r.code);
              err = vendor_error(Endpoint::Carrier, r.code, r.reason, mobile);
              return false;
            }
            if (!r.mobile.empty()) {
              auto echoed = normalize_mobile(r.mobile);
              if (!echoed || *echoed != mobile) {
                err = make_error(ErrorKind::BatchMismatch,
                                 "the vendor answered for a different number",
                                 "Asked for " + std::string(mobile) + ", the answer is for " +
                                     r.mobile + ".",
                                 "The answer was discarded. Retry later; if it persists, "
                                 "report it to the vendor.");
                return false;
              }
            }
            r.mobile.assign(mobile.data(), mobile.size());
            result = std::move(r);
            return true;
          });
  return result;
}

BalanceRecord Client::balance(const Settings& s, CancelCheck cancel) {
  require_key(s);
  BalanceRecord result;
  run_one(pool_, s, Endpoint::Balance, form_body(s.apikey, {}), kForm, cancel,
          [&](const Transfer& t, Error& err, bool& retry) {
            BalanceRecord r = parse_or_explain(parse_balance, t, s.http, Endpoint::Balance);
            if (r.code != 0) {
              retry = is_retryable_vendor_code(r.code);
              err = vendor_error(Endpoint::Balance, r.code, r.reason);
              return false;
            }
            result = std::move(r);
            return true;
          });
  return result;
}

void Client::batch(const Settings& s, BatchJob& job, CancelCheck cancel) {
  if (job.to_send() == 0) return;  // nothing to send: no key needed either
  require_key(s);
  std::optional<Error> failure;
  auto make = [&](std::size_t chunk) {
    return HttpRequest{endpoint_path(Endpoint::CarrierBatch),
                       batch_body(s.apikey, job.chunk_keys(chunk), job.chunk_size(chunk)),
                       kJson};
  };
  auto fail = [&](Error e) {
    if (!failure) failure = std::move(e);
    return Verdict::Stop;
  };
  auto on_result = [&](std::size_t chunk, Transfer& t, bool final_attempt) {
    TransferVerdict tv;
    if (!classify_transfer(t, Endpoint::CarrierBatch, s.http, tv)) {
      if (tv.retry && !final_attempt) return Verdict::Retry;
      return fail(tv.error);
    }
    BatchResponse r = parse_or_explain(parse_batch, t, s.http, Endpoint::CarrierBatch);
    if (r.request_code != 0) {
      if (is_retryable_vendor_code(r.request_code) && !final_attempt) return Verdict::Retry;
      return fail(vendor_error(Endpoint::CarrierBatch, r.request_code, r.request_reason));
    }
    // An account-level code inside the array concerns the whole account.
    for (const CarrierRecord& item : r.items)
      if (is_account_level(item.code))
        return fail(vendor_error(Endpoint::CarrierBatch, item.code, item.reason));
    try {
      job.record(chunk, r.items);
    } catch (const QxtError& e) {
      return fail(e.error());
    }
    return Verdict::Done;
  };
  RunStatus st = pool_.run(s.http, job.chunks(), make, on_result, cancel);
  if (st == RunStatus::Cancelled) throw_cancelled();
  if (failure) throw QxtError(*failure);
}

}  // namespace qxt
