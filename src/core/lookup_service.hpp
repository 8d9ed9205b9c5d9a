// The lookup service: the one place that decides where a number's answer
// comes from, for qxt_carrier and qxt_carrier_batch alike.  In order:
// this statement's memo (memo.hpp), a young enough row of qxt_lookups (read
// by the glue, handed over as CachedRow), then the vendor (client.hpp); and
// what the vendor answered is kept in the memo.  The glue decodes the
// arguments, reads the cached rows, calls this and emits the rows.
#pragma once

#include "core_only.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <type_traits>
#include <unordered_map>

#include "batch.hpp"
#include "client.hpp"
#include "errors.hpp"
#include "memo.hpp"

namespace qxt {

// A row of qxt_lookups young enough to answer from, already checked to be
// one the vendor can have sent (is_kept_answer(code); the fields of a
// success, none otherwise).  Plain data: strings are NUL-terminated UTF-8,
// "" when absent.
struct CachedRow {
  std::uint64_t key;
  std::int32_t code;
  std::int16_t res;
  const char* area;
  const char* init_isp;
  const char* now_isp;
};

// Answers known before anything is sent: from `memo` first (may be null),
// then from `rows` (may be empty).  Usable as a BatchJob::Known through
// std::cref; must outlive the BatchJob's constructor only.
class KnownAnswers {
 public:
  KnownAnswers(const StatementMemo* memo, const CachedRow* rows, std::size_t nrows);
  bool operator()(std::uint64_t key, KnownAnswer& out) const;
  bool empty() const { return memo_ == nullptr && rows_.empty(); }
  // Numbers answered so far from the memo, and from the rows.
  std::size_t memo_hits() const { return memo_hits_; }
  std::size_t cache_hits() const { return cache_hits_; }

 private:
  const StatementMemo* memo_;
  mutable std::size_t memo_hits_ = 0;
  mutable std::size_t cache_hits_ = 0;
  std::unordered_map<std::uint64_t, const CachedRow*> rows_;
};

// The answer a cached row gives for `mobile`: its record, or (a failure
// code younger than qxt.cache_max_age) the vendor's error, raised without
// sending anything.  Needs no settings, key or client: a cache hit builds
// none of them.
CarrierRecord answer_from_cached(std::string_view mobile, const CachedRow& cached);

// What a batch would do with its numbers (plain data): rows = invalid +
// duplicates + known + to_send.
struct BatchEstimate {
  std::size_t rows = 0;        // elements, NULLs included
  std::size_t invalid = 0;     // NULL or not a mobile number: never sent
  std::size_t duplicates = 0;  // valid elements repeating an earlier one (any spelling)
  std::size_t known = 0;       // distinct valid numbers answered without sending: a cached
                               // row, or this statement's memo (small calls)
  std::size_t to_send = 0;     // distinct valid numbers the batch sends (and pays for)
};

static_assert(std::is_trivially_destructible<BatchEstimate>::value,
              "plain data: the glue keeps it in a frame PostgreSQL may longjmp over");

class LookupService {
 public:
  // `memo` is this statement's, entered for `s` (the glue's qxt_memo_for).
  LookupService(Client& client, StatementMemo& memo, const Settings& s, CancelCheck cancel)
      : client_(client), memo_(memo), s_(s), cancel_(cancel) {}

  // One normalised number.  `cached` (may be null) is its row of
  // qxt_lookups: it answers (a per-number failure is raised as the
  // vendor's error, saying where it came from) and nothing is sent.
  // Otherwise carrier_once_per_statement.
  CarrierRecord carrier(std::string_view mobile, const CachedRow* cached);

  // The numbers `keys[0..n)` (0: NULL or not a number, never sent).  Small
  // calls (n <= StatementMemo::kMaxBatchForMemo) are answered from the memo
  // first and feed it with what the vendor answered, also when the batch
  // fails (what was paid for stays known); then the cached rows answer;
  // the rest is asked of the vendor.  `adopt` receives the job before
  // anything is sent (it must not throw): the caller owns it from then on,
  // and reads the answers from it.
  void carrier_batch(const std::uint64_t* keys, std::size_t n, const CachedRow* rows,
                     std::size_t nrows, const std::function<void(BatchJob*)>& adopt);

  // What carrier_batch(keys, n, rows, nrows) would send now, sending
  // nothing (qxt_estimate): the very job carrier_batch builds
  // (prepare_batch), counted instead of run.  Reads the memo, never feeds it.
  BatchEstimate estimate_batch(const std::uint64_t* keys, std::size_t n, const CachedRow* rows,
                               std::size_t nrows) const;

 private:
  // The job of carrier_batch, before anything is sent: its distinct valid
  // numbers, those the memo (small calls only) or a cached row answer, and
  // the rest, to send.  One function for the batch and its estimate, so
  // that the estimate cannot drift from what the batch pays.
  std::unique_ptr<BatchJob> prepare_batch(const std::uint64_t* keys, std::size_t n,
                                          const CachedRow* rows, std::size_t nrows,
                                          bool& uses_memo, std::size_t* memo_hits = nullptr,
                                          std::size_t* cache_hits = nullptr) const;

  Client& client_;
  StatementMemo& memo_;
  const Settings& s_;
  CancelCheck cancel_;
};

// The rows of a batch without a lookup result, for the glue's closing
// WARNING (plain data): NULL inputs, inputs that are not numbers (never
// sent), then one count per row of the vendor-code table (errors.hpp) and
// one for any other code.
struct BatchFailures {
  long null_inputs = 0;
  long invalid_inputs = 0;
  long by_code[kVendorCodeCount + 1] = {};
  long failed() const;
  // Enough room for describe(): every count with its longest wording.
  static constexpr std::size_t kDescribeCap = 128 * (kVendorCodeCount + 3);
  // "2 NULL, 1 not a mobile number (not sent), 1 answered by the vendor
  // with code ..." into `buf` (NUL-terminated, at most `cap` bytes).
  void describe(char* buf, std::size_t cap) const noexcept;
};

static_assert(std::is_trivially_destructible<BatchFailures>::value,
              "plain data: the glue keeps it in a frame PostgreSQL may longjmp over");

// Tallies the elements of keys[0..n) (0: NULL when is_null[i], else not a
// number) that have no successful answer in `job` (may be null).
BatchFailures tally_failures(const BatchJob* job, const std::uint64_t* keys, const bool* is_null,
                             std::size_t n) noexcept;

// One lookup with the memo: answered from memory when this statement asked
// for the number already, otherwise from the vendor (and remembered).  A
// per-number failure (-2/-3/-4) is remembered too and raised again.
CarrierRecord carrier_once_per_statement(Client& client, StatementMemo& memo,
                                         const Settings& s, std::string_view mobile,
                                         CancelCheck cancel);

}  // namespace qxt
