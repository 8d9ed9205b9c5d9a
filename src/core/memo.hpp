// One payment per number per statement: answers already received during the
// current SQL statement are kept in memory and reused, so the same number
// asked again in that statement (the (qxt_carrier(p)).* trap, which calls
// the function once per output column, or a LATERAL over duplicate phones)
// is not sent, and not paid, again.
#pragma once

#include "core_only.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "batch.hpp"
#include "errors.hpp"
#include "response.hpp"

namespace qxt {

// What identifies "the current statement" for the memo: the statement's start
// time and local transaction id (from the glue), and a fingerprint of where
// and as whom it asks (base URL and key), so a SET between calls never
// serves one account's answer to another.
struct StatementId {
  std::int64_t statement_start = 0;
  std::uint32_t local_xid = 0;
  std::uint64_t settings_fingerprint = 0;
  bool operator==(const StatementId& o) const {
    return statement_start == o.statement_start && local_xid == o.local_xid &&
           settings_fingerprint == o.settings_fingerprint;
  }
};

std::uint64_t fingerprint(std::string_view base_url, std::string_view apikey);

class StatementMemo {
 public:
  StatementMemo() = default;
  StatementMemo(const StatementMemo&) = delete;  // entries_ points into this object
  StatementMemo& operator=(const StatementMemo&) = delete;

  // Entries kept per statement (all fingerprints together); past this,
  // answers are simply not kept.
  static constexpr std::size_t kMaxEntries = 100000;
  // Batches with more distinct numbers than this neither consult nor feed
  // the memo: they are deduplicated within themselves already, and the memo
  // is for the many small calls of one statement.
  static constexpr std::size_t kMaxBatchForMemo = 10000;

  // Starts using the memo for `id`, forgetting everything of other
  // statements.  Within one statement, each key and URL (the settings
  // fingerprint) has answers of its own, kept while the statement lasts:
  // a statement that asks through two of them in turn pays once per number
  // and fingerprint.
  void enter(const StatementId& id);

  // Per-number answers are kept (success, and the vendor's per-number
  // failures: is_kept_answer, errors.hpp); request-level failures never are.
  static bool memorable(int code) { return is_kept_answer(code); }

  const CarrierRecord* find(std::uint64_t key) const;
  void put(std::uint64_t key, const CarrierRecord& r);
  // Keeps the vendor's answers of a finished (or stopped) batch job.
  void put_all(const BatchJob& job);

  // Answers kept for the current fingerprint.
  std::size_t size() const { return entries_->size(); }

 private:
  using Entries = std::unordered_map<std::uint64_t, CarrierRecord>;
  StatementId id_;
  std::unordered_map<std::uint64_t, Entries> by_settings_;  // fingerprint -> answers
  Entries empty_;                // current while nothing was entered
  Entries* entries_ = &empty_;   // the answers of id_.settings_fingerprint
  std::size_t total_ = 0;        // entries over every fingerprint
};

}  // namespace qxt
