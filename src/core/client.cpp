#include "client.hpp"

#include <algorithm>
#include <optional>
#include <vector>

#include "normalize.hpp"
#include "request.hpp"

namespace qxt {

// The key, masked in whatever comes back.  A server that echoes the request
// (a proxy's or load balancer's error page, a wrong qxt.base_url, a vendor
// quoting the key it refuses) would otherwise put the key into an error's
// DETAIL (the vendor's reason, an excerpt of a body that is not JSON),
// which reaches every role allowed to call the functions and the server
// log, or into an answer's fields.  So every form the key was sent in (as
// the content of a JSON string, form-encoded, as it is) is overwritten
// with '*' (same length) in each response body before it is parsed, and in
// the texts of every error before it leaves the client.  Keys shorter than
// kMinMaskedKey are left alone: the vendor's keys have 32 characters
// (shorter ones are refused with code 1), and masking a few characters
// everywhere would garble answers.
constexpr std::size_t kMinMaskedKey = 8;

namespace {
// Where `pat` occurs in `text` from `from` on, ASCII letters compared
// without regard to case; npos when nowhere.
std::size_t find_nocase(const std::string& text, const std::string& pat, std::size_t from) {
  auto lower = [](char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  };
  if (pat.empty() || text.size() < pat.size()) return std::string::npos;
  for (std::size_t p = from; p + pat.size() <= text.size(); ++p) {
    std::size_t i = 0;
    while (i < pat.size() && lower(text[p + i]) == lower(pat[i])) ++i;
    if (i == pat.size()) return p;
  }
  return std::string::npos;
}
}  // namespace

class KeyMask {
 public:
  explicit KeyMask(const std::string& key) {
    if (key.size() < kMinMaskedKey) return;
    for (std::string f : {json_escaped(key), form_escaped(key), key})
      if (std::find(forms_.begin(), forms_.end(), f) == forms_.end()) forms_.push_back(std::move(f));
  }
  // Letters are compared without regard to case (ASCII): a server that
  // quotes the key may have changed its case.
  void apply(std::string& text) const {
    for (const std::string& f : forms_)
      for (std::size_t p = find_nocase(text, f, 0); p != std::string::npos;
           p = find_nocase(text, f, p + f.size()))
        text.replace(p, f.size(), f.size(), '*');
  }
  // The fields of a parsed answer: JSON may spell the key's characters with
  // escapes (\u0041), which only the parsed text shows as the key.
  void apply(CarrierRecord& r) const {
    for (std::string* t : {&r.reason, &r.mobile, &r.area, &r.init_isp, &r.now_isp}) apply(*t);
  }
  void apply(BalanceRecord& r) const {
    apply(r.reason);
    apply(r.fee_type);
  }
  void apply(BatchResponse& r) const {
    apply(r.request_reason);
    for (CarrierRecord& item : r.items) apply(item);
    apply(r.first_unreadable.message);
    apply(r.first_unreadable.detail);
    apply(r.first_unreadable.hint);
  }
  QxtError apply(const QxtError& e) const {
    Error err = e.error();
    apply(err.message);
    apply(err.detail);
    apply(err.hint);
    return QxtError(err);
  }

 private:
  std::vector<std::string> forms_;
};

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
void run_one(HttpPool& pool, const Settings& s, const KeyMask& mask, Endpoint ep,
             std::string body, const char* content_type, CancelCheck cancel, Accept accept) {
  std::optional<Error> failure;
  auto make = [&](std::size_t) {
    return HttpRequest{endpoint_path(ep), body, content_type, ep, ep == Endpoint::Balance ? 0u : 1u};
  };
  auto on_result = [&](std::size_t, Transfer& t, bool final_attempt) {
    mask.apply(t.body);
    mask.apply(t.content_type);
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
  if (const Error* refused = pool.refusal()) throw QxtError(*refused);
}


// A parse failure, as a BadResponse that names the endpoint and the
// Content-Type.
Error explained(Error err, const Transfer& t, const HttpConfig& cfg, Endpoint ep) {
  std::string d = "From " + where(cfg, ep) + " (Content-Type: " +
                  (t.content_type.empty() ? std::string("none") : t.content_type) + "). " +
                  err.detail;
  err.detail = std::move(d);
  if (err.hint.empty())
    err.hint = "The vendor, or something between it and this server, sent an answer "
               "that is not the documented JSON. Check qxt.base_url and retry later.";
  return err;
}

// Parses with the endpoint's parser, turning a parse failure into a
// BadResponse that names the endpoint and the Content-Type.
template <typename Parse>
auto parse_or_explain(Parse parse, const Transfer& t, const HttpConfig& cfg, Endpoint ep)
    -> decltype(parse(std::string_view())) {
  try {
    return parse(t.body);
  } catch (const QxtError& e) {
    throw QxtError(explained(e.error(), t, cfg, ep));
  }
}

}  // namespace

void require_key(const Settings& s) {
  if (s.apikey.empty())
    throw QxtError(make_error(
        ErrorKind::NoApiKey, "qxt.apikey is not set", "No request was sent.",
        "A superuser sets qxt.apikey_file to a file holding the key (ALTER SYSTEM "
        "SET qxt.apikey_file = '...', then SELECT pg_reload_conf()); see the "
        "README's Security section."));
}

bool is_paid(Endpoint ep) { return ep != Endpoint::Balance; }

namespace {

// What the user is told about a request that may have been charged.
constexpr const char* kMayHaveCharged =
    " The request had been sent, so the vendor may have received and charged it; "
    "it was not sent again.";
constexpr const char* kBalanceHint =
    "SELECT * FROM qxt_balance() shows the balance; a qxt_refresh run resumes where it "
    "stopped, keeping everything answered before.";

Error transport_error(const Transfer& t, Endpoint ep, const HttpConfig& cfg, bool& retry) {
  const std::string url = where(cfg, ep);
  const bool paid = is_paid(ep);
  const std::string detail = "libcurl: " + t.transport_error + " (" + url + ").";
  retry = false;
  switch (t.failure) {
    case TransportFailure::Refused:
    case TransportFailure::Resolve:
      retry = true;
      return make_error(ErrorKind::ConnectFailed, "could not connect to the vendor",
                        detail + " Nothing was sent, so nothing was charged.",
                        "Check qxt.base_url and this server's network access to the vendor; "
                        "qxt.max_retries further attempts were made.");
    case TransportFailure::ConnectTimeout: {
      retry = true;
      // The whole-transfer limit applies to connecting too.
      const bool whole = cfg.timeout_ms < cfg.connect_timeout_ms;
      return make_error(ErrorKind::ConnectFailed,
                        std::string("could not connect to the vendor within ") +
                            (whole ? "qxt.timeout_ms (" + std::to_string(cfg.timeout_ms)
                                   : "qxt.connect_timeout_ms (" +
                                         std::to_string(cfg.connect_timeout_ms)) +
                            " ms)",
                        detail + " Nothing was sent, so nothing was charged.",
                        std::string("Check the network path to the vendor, or raise ") +
                            (whole ? "qxt.timeout_ms." : "qxt.connect_timeout_ms."));
    }
    case TransportFailure::Tls:
      return make_error(ErrorKind::TlsFailure,
                        "could not establish a trusted TLS connection to the vendor",
                        detail + " Nothing was sent, so nothing was charged.",
                        "The vendor's certificate was not accepted. A superuser can set "
                        "qxt.ca_file to the CA that signed it.");
    case TransportFailure::TimedOut:
      return make_error(ErrorKind::Timeout,
                        "the vendor did not answer within qxt.timeout_ms (" +
                            std::to_string(cfg.timeout_ms) + " ms)",
                        detail + (paid ? kMayHaveCharged
                                       : " A request that timed out is not sent again."),
                        paid ? std::string("Raise qxt.timeout_ms if the vendor is slow. ") +
                                   kBalanceHint
                             : std::string("Retry later, or raise qxt.timeout_ms."));
    case TransportFailure::Closed:
    case TransportFailure::Truncated:
    case TransportFailure::SendError:
    case TransportFailure::RecvError:
      retry = !paid;
      return make_error(ErrorKind::ConnectionLost,
                        "the connection to the vendor broke before a complete answer",
                        detail + (paid ? kMayHaveCharged
                                       : " qxt.max_retries further attempts were made."),
                        paid ? std::string(kBalanceHint) : std::string("Retry later."));
    case TransportFailure::TooLarge:
      return make_error(ErrorKind::ResponseTooLarge,
                        "the vendor's answer is larger than the client accepts",
                        "The answer from " + url + " exceeded " +
                            std::to_string(cfg.max_response_bytes) + " bytes." +
                            (paid ? kMayHaveCharged : ""),
                        "Check qxt.base_url: the vendor's answers are far smaller.");
    case TransportFailure::FdExhausted:
      return fd_budget_error("no socket could be opened for " + url +
                             ". The request was not sent.");
    case TransportFailure::Other:
    case TransportFailure::None:
      break;
  }
  if (t.may_have_reached_vendor)
    return make_error(ErrorKind::ConnectionLost, "the request to the vendor failed",
                      detail + (paid ? kMayHaveCharged : ""),
                      paid ? std::string(kBalanceHint) : std::string("Retry later."));
  return make_error(ErrorKind::ConnectFailed, "could not send the request to the vendor",
                    detail + " Nothing was sent, so nothing was charged.",
                    "Check qxt.base_url.");
}

Error status_error(const Transfer& t, Endpoint ep, const HttpConfig& cfg, bool& retry) {
  const long st = t.http_status;
  const bool refusal = st == 429 || st == 503;  // "not now": charges nothing
  const bool server_error = st >= 500 && st <= 599;
  retry = refusal || (server_error && !is_paid(ep));
  std::string detail = "HTTP status " + std::to_string(st) + " from " + where(cfg, ep) + ".";
  std::string hint;
  if (refusal) {
    detail += " The vendor refused the request for now, which charges nothing; "
              "qxt.max_retries further attempts were made.";
    hint = "The vendor is overloaded or down. Retry later.";
  } else if (server_error && is_paid(ep)) {
    detail += " The vendor may have processed and charged the request before failing; "
              "it was not sent again.";
    hint = std::string("Retry later. ") + kBalanceHint;
  } else if (server_error) {
    detail += " qxt.max_retries further attempts were made.";
    hint = "The vendor is overloaded or down. Retry later.";
  } else {
    hint = "Check qxt.base_url: it must point at the vendor's API.";
  }
  return make_error(ErrorKind::HttpStatus,
                    "the vendor answered with HTTP status " + std::to_string(st), detail, hint);
}

}  // namespace

bool classify_transfer(const Transfer& t, Endpoint ep, const HttpConfig& cfg,
                       TransferVerdict& out) {
  if (t.failure != TransportFailure::None) {
    out.error = transport_error(t, ep, cfg, out.retry);
    return false;
  }
  if (t.http_status != 200) {
    out.error = status_error(t, ep, cfg, out.retry);
    return false;
  }
  out.retry = false;
  return true;
}

CarrierRecord Client::carrier(const Settings& s, std::string_view mobile, CancelCheck cancel) {
  require_key(s);
  const KeyMask mask(s.apikey);
  try {
    return carrier_masked(s, mask, mobile, cancel);
  } catch (const QxtError& e) {
    throw mask.apply(e);
  }
}

CarrierRecord Client::carrier_masked(const Settings& s, const KeyMask& mask,
                                     std::string_view mobile, CancelCheck cancel) {
  CarrierRecord result;
  run_one(pool_, s, mask, Endpoint::Carrier, form_body(s.apikey, mobile), kForm, cancel,
          [&](const Transfer& t, Error& err, bool& retry) {
            CarrierRecord r = parse_or_explain(parse_carrier, t, s.http, Endpoint::Carrier);
            mask.apply(r);
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
            if (s.http.gate != nullptr) s.http.gate->paid(Endpoint::Carrier, 1);
            return true;
          });
  return result;
}

BalanceRecord Client::balance(const Settings& s, CancelCheck cancel) {
  require_key(s);
  const KeyMask mask(s.apikey);
  try {
    return balance_masked(s, mask, cancel);
  } catch (const QxtError& e) {
    throw mask.apply(e);
  }
}

BalanceRecord Client::balance_masked(const Settings& s, const KeyMask& mask, CancelCheck cancel) {
  BalanceRecord result;
  run_one(pool_, s, mask, Endpoint::Balance, form_body(s.apikey, {}), kForm, cancel,
          [&](const Transfer& t, Error& err, bool& retry) {
            BalanceRecord r = parse_or_explain(parse_balance, t, s.http, Endpoint::Balance);
            mask.apply(r);
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
  CancelPolicy policy;
  policy.cancel = cancel;
  batch(s, job, policy, nullptr);
}

void Client::batch(const Settings& s, BatchJob& job, const CancelPolicy& policy,
                   BatchCancelReport* report) {
  BatchCancelReport local;
  BatchCancelReport& rep = report != nullptr ? *report : local;
  rep = BatchCancelReport();
  if (job.to_send() == 0) return;  // nothing to send: no key needed either
  require_key(s);
  const KeyMask mask(s.apikey);
  try {
    batch_masked(s, mask, job, policy, rep);
  } catch (const QxtError& e) {
    throw mask.apply(e);
  }
}

void Client::batch_masked(const Settings& s, const KeyMask& mask, BatchJob& job,
                          const CancelPolicy& policy, BatchCancelReport& rep) {
  DrainReport drain;  // the pool fills it; drain.cancelled: we are draining
  std::optional<Error> failure;
  auto make = [&](std::size_t chunk) {
    return HttpRequest{endpoint_path(Endpoint::CarrierBatch),
                       batch_body(s.apikey, job.chunk_keys(chunk), job.chunk_size(chunk)),
                       kJson, Endpoint::CarrierBatch, job.chunk_size(chunk)};
  };
  // Stops the job.  An account-level refusal is what the user must act on
  // (and what makes a rerun pointless), so it wins over any other failure.
  auto fail = [&](Error e) {
    if (!failure || (is_account_level(e.vendor_code) && !is_account_level(failure->vendor_code)))
      failure = std::move(e);
    return Verdict::Stop;
  };
  auto on_result = [&](std::size_t chunk, Transfer& t, bool final_attempt) {
    mask.apply(t.body);
    mask.apply(t.content_type);
    // During a drain, every request that ends is one that was in flight at
    // the cancel: count what became of it.
    const bool drained = drain.cancelled;
    TransferVerdict tv;
    if (!classify_transfer(t, Endpoint::CarrierBatch, s.http, tv)) {
      if (drained) ++(tv.retry ? rep.refused : rep.unanswered);
      if (tv.retry && !final_attempt) return Verdict::Retry;
      return fail(tv.error);
    }
    // Nothing thrown here may leave this callback: it would abandon the
    // other requests in flight, whose answers the vendor charges.
    // An element that is not the documented shape does not spoil the
    // others (each success among them was charged): it is left out, and
    // reported once the others are kept.
    BatchResponse r;
    try {
      r = parse_or_explain(parse_batch_salvaging, t, s.http, Endpoint::CarrierBatch);
      mask.apply(r);
    } catch (const QxtError& e) {
      if (drained) ++rep.unanswered;
      return fail(e.error());
    }
    if (drained) ++(is_retryable_vendor_code(r.request_code) ? rep.refused : rep.answered);
    if (r.request_code != 0) {
      if (is_retryable_vendor_code(r.request_code) && !final_attempt) return Verdict::Retry;
      return fail(vendor_error(Endpoint::CarrierBatch, r.request_code, r.request_reason));
    }
    // Every element is kept first, whatever else the answer holds: each
    // success in it was charged.
    Verdict v = Verdict::Done;
    std::size_t kept = 0;
    try {
      kept = job.record(chunk, r.items);
    } catch (const QxtError& e) {
      v = fail(e.error());
    }
    if (s.http.gate != nullptr) {
      std::size_t successes = 0;
      for (const CarrierRecord& item : r.items) successes += item.code == 0 ? 1 : 0;
      s.http.gate->paid(Endpoint::CarrierBatch, successes);
    }
    if (r.unreadable > 0) {
      Error e = explained(r.first_unreadable, t, s.http, Endpoint::CarrierBatch);
      e.detail += " " + std::to_string(r.unreadable) + " of the answer's " +
                  std::to_string(r.items.size()) + " elements could not be read; " +
                  std::to_string(kept) + " of its " + std::to_string(r.items.size()) +
                  " elements were kept (those whose Mobile names a number asked), and "
                  "nothing is sent again by itself (the vendor may have charged the whole "
                  "request).";
      v = fail(std::move(e));
    }
    // An account-level code among the elements (a partial charge, then -5
    // for the rest) concerns the whole account: stop.
    for (const CarrierRecord& item : r.items) {
      if (is_account_level(item.code)) {
        v = fail(vendor_error(Endpoint::CarrierBatch, item.code, item.reason));
        break;
      }
    }
    return v;
  };
  RunStatus st = pool_.run(s.http, job.chunks(), make, on_result, policy, &drain);
  if (drain.cancelled) {
    rep.cancelled = true;
    rep.in_flight = drain.in_flight;
    rep.unanswered += drain.abandoned;
    rep.dropped = drain.dropped;
    rep.urgent = drain.urgent;
    rep.drain_ms = drain.drain_ms_used;
  }
  if (st == RunStatus::Cancelled) throw_cancelled();
  // An account-level refusal first (what the user must act on); then a
  // spending limit the gate held to (why the batch stopped); then any other.
  const Error* refused = pool_.refusal();
  if (failure && (refused == nullptr || is_account_level(failure->vendor_code)))
    throw QxtError(*failure);
  if (refused != nullptr) throw QxtError(*refused);
}

}  // namespace qxt
