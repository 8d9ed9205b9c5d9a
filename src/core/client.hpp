// The QXT client: single lookup, batch lookup and balance over one
// per-backend HttpPool.  Everything here throws QxtError on failure (a
// cancel is ErrorKind::Cancelled); the PostgreSQL glue catches at its
// boundary.
#pragma once

#include "core_only.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "batch.hpp"
#include "errors.hpp"
#include "http.hpp"
#include "response.hpp"

namespace qxt {

struct Settings {
  HttpConfig http;
  std::string apikey;
  std::size_t batch_size = 1000;
};

// The retry policy ("never pay twice").  The paid endpoints (/carrier,
// /carrier_batch) are sent again only when the request cannot have reached
// the vendor (no connection could be made: refused, DNS, connect timeout),
// or when the vendor refused it explicitly in a way that charges nothing
// (HTTP 429 or 503, vendor code -8).  Everything else after the request went
// out is final.  /balance is free: it is also retried when the answer was
// lost and on other 5xx.  A timeout after sending is never retried.
bool is_paid(Endpoint ep);

// What a failed attempt means (shared by every endpoint): Retry when worth
// another attempt, otherwise the error to raise.
struct TransferVerdict {
  bool retry = false;
  Error error;
};
// Returns true when the transfer carries an HTTP 200 answer to parse;
// otherwise fills `out`.
bool classify_transfer(const Transfer& t, Endpoint ep, const HttpConfig& cfg,
                       TransferVerdict& out);

// What became of the requests in flight when a batch was cancelled.  With
// a drain (CancelPolicy::drain_ms > 0) the requests already sent are waited
// for: in_flight == answered + refused + unanswered.
struct BatchCancelReport {
  bool cancelled = false;
  std::size_t in_flight = 0;   // requests already sent when the cancel came
  std::size_t answered = 0;    // ... answered by the vendor; every element recorded
  std::size_t refused = 0;     // ... refused in a way that charges nothing (429, 503, -8)
  std::size_t unanswered = 0;  // ... without an answer (abandoned at the drain's
                               // deadline, timed out, lost, unreadable): the
                               // vendor may have charged them
  std::size_t dropped = 0;     // not sent yet when the cancel came: dropped, not charged
  bool urgent = false;         // CancelPolicy::urgent cut the drain short
  long drain_ms = 0;           // from the cancel to the end
};

// Throws QxtError(NoApiKey, 28000) when `s` has no key (nothing is sent).
void require_key(const Settings& s);

class KeyMask;  // client.cpp

class Client {
 public:
  // `budget` counts every descriptor of the connection pool (see
  // SocketBudget); throws QxtError(ResourceExhausted) when it refuses the
  // pool's own.
  explicit Client(SocketBudget budget = SocketBudget()) : pool_(budget) {}

  // One lookup of a normalised 11-digit number.  A non-zero vendor code is
  // raised as its Error.
  CarrierRecord carrier(const Settings& s, std::string_view mobile, CancelCheck cancel);

  BalanceRecord balance(const Settings& s, CancelCheck cancel);

  // Looks up every distinct number of `job`, `s.http.concurrency` requests
  // at a time.  Every element of every answer received is recorded in the
  // job (see BatchJob::record), whatever else that answer holds.  A failure
  // of a whole request, an account-level code (-1/-5/-6, as the whole
  // answer or as elements), or an answer that does not match its request
  // stops the batch: no request is started after it, those in flight finish
  // and are recorded, and the failure is then thrown (an account-level one
  // in preference to any other).
  void batch(const Settings& s, BatchJob& job, CancelCheck cancel);
  // The same, with a cancel policy: a drain (CancelPolicy) records the
  // answers of the requests in flight at the cancel before ErrorKind::
  // Cancelled is thrown.  `report` (may be null) is filled in either way.
  void batch(const Settings& s, BatchJob& job, const CancelPolicy& policy,
             BatchCancelReport* report);

  HttpPool& pool() { return pool_; }

 private:
  // The calls themselves; the public ones mask the key in every error
  // (client.cpp, KeyMask).
  CarrierRecord carrier_masked(const Settings& s, const KeyMask& mask,
                               std::string_view mobile, CancelCheck cancel);
  BalanceRecord balance_masked(const Settings& s, const KeyMask& mask, CancelCheck cancel);
  void batch_masked(const Settings& s, const KeyMask& mask, BatchJob& job,
                    const CancelPolicy& policy, BatchCancelReport& rep);

  HttpPool pool_;
};

}  // namespace qxt
