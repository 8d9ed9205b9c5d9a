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

// What a failed transfer means (shared by every endpoint): Retry when worth
// another attempt, otherwise the error to raise.
struct TransferVerdict {
  bool retry = false;
  Error error;
};
// Returns true when the transfer carries an HTTP 200 answer to parse;
// otherwise fills `out`.
bool classify_transfer(const Transfer& t, Endpoint ep, const HttpConfig& cfg,
                       TransferVerdict& out);

class Client {
 public:
  // One lookup of a normalised 11-digit number.  A non-zero vendor code is
  // raised as its Error.
  CarrierRecord carrier(const Settings& s, std::string_view mobile, CancelCheck cancel);

  BalanceRecord balance(const Settings& s, CancelCheck cancel);

  // Looks up every distinct number of `job`, `s.http.concurrency` requests
  // at a time.  Per-number failures are recorded in the job; a failure of a
  // whole request stops the batch (no request is started after it; those in
  // flight finish and are recorded) and is then thrown.
  void batch(const Settings& s, BatchJob& job, CancelCheck cancel);

  HttpPool& pool() { return pool_; }

 private:
  HttpPool pool_;
};

}  // namespace qxt
