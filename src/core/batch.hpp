// A batch lookup's bookkeeping, kept compact so a million-number call stays
// in bounded memory: the distinct valid numbers in first-seen order (each is
// sent once), their chunking into requests, and one small fixed-size answer
// per distinct number with the strings interned.
#pragma once

#include "core_only.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "response.hpp"

namespace qxt {

// Answer of one distinct number.  `code` is one of:
// - kNotAsked: no answer (not sent, or its answer was lost or could not be
//   attributed safely);
// - 0: a success (res, area, carriers filled);
// - a per-number code (-2, -3, -4, ...): the vendor's answer for this number;
// - an account-level code (-1, -5, -6: is_account_level() in errors.hpp):
//   the vendor refused this number for the account and charged nothing.
//   That is NOT an answer: never store it, never remember it.  is_answer()
//   tells the two apart; the job stops after such an element and never
//   sends the number again.
struct CompactResult {
  static constexpr std::int16_t kNotAsked = INT16_MIN;
  std::int16_t code = kNotAsked;  // vendor code (clamped to int16); kNotAsked while unanswered
  std::int16_t res = -1;
  std::uint16_t init_isp = 0;     // StringTable ids; 0 = absent
  std::uint16_t now_isp = 0;
  std::uint32_t area = 0;

  // True for a real answer of the vendor (success or per-number failure).
  bool is_answer() const;
};

// Interned strings; id 0 is the empty string (absent).
class StringTable {
 public:
  StringTable();
  std::uint32_t intern(std::string_view s);
  std::string_view get(std::uint32_t id) const { return strings_[id]; }
  std::size_t size() const { return strings_.size(); }

 private:
  std::vector<std::string> strings_;
  std::unordered_map<std::string, std::uint32_t> ids_;
};

// Open-addressing set of distinct numbers (keys are never 0).
class DistinctNumbers {
 public:
  // Index of `key`, inserting it when new.
  std::uint32_t add(std::uint64_t key);
  // Index of `key`, or UINT32_MAX when absent.
  std::uint32_t find(std::uint64_t key) const;
  std::size_t size() const { return keys_.size(); }
  const std::uint64_t* keys() const { return keys_.data(); }
  void reserve(std::size_t n);

 private:
  void grow();
  std::vector<std::uint64_t> keys_;    // first-seen order
  std::vector<std::uint32_t> table_;   // slot -> index+1 (0 = empty)
  std::size_t mask_ = 0;
};

// An answer known before anything is sent (from this statement's memo, or
// from the qxt_lookups table): such numbers are not sent again.
struct KnownAnswer {
  std::int16_t code = 0;
  std::int16_t res = -1;
  std::string_view area, init_isp, now_isp;
};

class BatchJob {
 public:
  // Returns true and fills `out` when the answer for `key` is already known.
  using Known = std::function<bool(std::uint64_t key, KnownAnswer& out)>;

  // `keys[i]` is mobile_to_key() of input i, or 0 when input i is NULL or
  // not a valid number (never sent).  Numbers for which `known` (may be
  // empty) has an answer are answered at once and not sent.
  BatchJob(const std::uint64_t* keys, std::size_t n, std::size_t batch_size,
           const Known& known = Known());

  std::size_t distinct() const { return numbers_.size(); }
  // Numbers to send (distinct, valid, not known), in first-seen order.
  std::size_t to_send() const { return send_.size(); }
  std::size_t known() const { return distinct() - to_send(); }
  std::size_t chunks() const { return (to_send() + batch_size_ - 1) / batch_size_; }
  const std::uint64_t* chunk_keys(std::size_t chunk) const {
    return send_.data() + chunk * batch_size_;
  }
  std::size_t chunk_size(std::size_t chunk) const;

  // Records the answer to chunk `chunk`: every element, whatever its code
  // (account-level ones as refusals, see CompactResult).  An element is
  // attributed by its echoed Mobile, or by its position when it echoes none
  // and the answer is consistent (one element per number asked, none naming
  // a number twice or one not asked).  When the answer does not match the
  // request, every element whose Mobile names a number of this chunk that
  // no other element names is still recorded (never one by position), and
  // then QxtError(BatchMismatch) is thrown.  Elements marked unreadable
  // (parse_batch_salvaging) are never recorded and make positions
  // untrusted, but are no mismatch by themselves: the caller reports them.
  // Returns how many elements were recorded.
  std::size_t record(std::size_t chunk, const std::vector<CarrierRecord>& items);

  // The answer for a key given to the constructor (nullptr for key 0).
  const CompactResult* result_for(std::uint64_t key) const;
  std::string_view text(std::uint32_t id) const { return strings_.get(id); }

  // Answers received from the vendor (not counting known ones, nor
  // account-level refusals).
  std::size_t answered() const { return answered_; }
  // Elements that carried an account-level code (refusals, not answers).
  std::size_t refused() const { return refused_; }

  // Calls fn(key, result) for every number the vendor answered in this job
  // (is_answer(): account-level refusals are left out), in the order sent.
  template <typename F>
  void for_each_sent_answer(F&& fn) const {
    for (std::uint64_t key : send_) {
      const CompactResult* r = result_for(key);
      if (r != nullptr && r->is_answer()) fn(key, *r);
    }
  }

 private:
  void store(std::uint32_t idx, int code, int res, std::string_view area,
             std::string_view init_isp, std::string_view now_isp);

  std::size_t batch_size_;
  DistinctNumbers numbers_;
  std::vector<std::uint64_t> send_;
  std::vector<CompactResult> results_;
  StringTable strings_;
  std::size_t answered_ = 0;
  std::size_t refused_ = 0;
};

}  // namespace qxt
