// How one vendor account's governor reacts when the vendor throttles (HTTP
// 429/503, code -8) and when it answers: plain data and functions, so that
// the PostgreSQL governor (src/pg/governor.cpp) keeps it in shared memory
// under its spinlock, and unit tests can play any sequence of answers.
//
// - A throttling answer starts one hold for the whole account (200 ms,
//   doubling while it goes on, at most 3 s, or the vendor's Retry-After, at
//   most 5 s); answers of requests sent before it do not lengthen it.
// - The vendor's limit: when a refusal comes back with `left` other
//   requests of the account still at the vendor, the vendor was serving at
//   most those (this one was one too many), so the cap comes down to the
//   least such count in the hold, whatever order the requests reached the
//   vendor in; after the hold no more than that start again (no stampede).
//   A refusal that comes back with none left, but after another request of
//   the account was answered while it was out, counts 1 (the vendor was
//   serving that one: a limit of one).  The cap stays there for kCeilingUs,
//   then probes one higher every kCeilingUs while answers succeed.
// - A refusal that comes back with nothing left in flight and nothing
//   answered while it was out says "not now", not "too many" (the vendor
//   refuses everything for a while): the cap goes back to where it was when
//   the hold began.  (Nothing starts during a hold, so every refusal in it
//   left before the hold began: an answer accepted during the hold was
//   accepted while each of them was out, and counts as above.)
#pragma once

#include "core_only.hpp"

#include <algorithm>
#include <cstdint>

namespace qxt {

struct Throttle {
  static constexpr int64_t kCeilingUs = 10 * 1000 * 1000;  // how long a limit holds
  static constexpr int64_t kMaxHoldUs = 5 * 1000 * 1000;   // the longest hold
  static constexpr int kNoLimit = 1 << 20;

  int cap = kNoLimit;       // requests the account may have in flight now
                            // (qxt.max_inflight applies on top)
  int ceiling = kNoLimit;   // the vendor's limit as last seen ...
  int64_t ceiling_until_us = 0;  // ... kept until then, then probed
  int64_t hold_until_us = 0;     // nobody starts before this
  int streak = 0;                // holds in a row (doubles the hold)
  // The current hold: whether a refusal came back alone, and the cap as it
  // was when the hold began.
  bool hold_alone = false;
  int cap_before = kNoLimit, ceiling_before = kNoLimit;
  int64_t ceiling_until_before = 0;
  int64_t last_success_us = -1;  // when an answer was last accepted

  bool holding(int64_t now) const { return now < hold_until_us; }

  // A throttling answer came back for a request that left at
  // `admitted_us`; `left`: the account's other requests still in flight
  // (this one no longer counted).
  void refused(int left, int64_t admitted_us, long retry_after_s, int64_t now) {
    if (now >= hold_until_us) {
      int64_t hold = std::min<int64_t>(200000LL << std::min(streak, 4), 3000000);
      if (retry_after_s > 0)  // (clamped before it is scaled: no overflow)
        hold = std::max<int64_t>(hold, std::min<int64_t>(retry_after_s, kMaxHoldUs / 1000000) * 1000000);
      hold_until_us = now + std::min(hold, kMaxHoldUs);
      ++streak;
      hold_alone = false;
      cap_before = cap;
      ceiling_before = ceiling;
      ceiling_until_before = ceiling_until_us;
    }
    if (hold_alone) return;
    // Answered while it was out: the vendor was serving another one.
    if (left <= 0 && last_success_us >= admitted_us) left = 1;
    if (left <= 0) {
      hold_alone = true;
      cap = cap_before;
      ceiling = ceiling_before;
      ceiling_until_us = ceiling_until_before;
      return;
    }
    ceiling = std::min(ceiling, left);
    ceiling_until_us = now + kCeilingUs;
    cap = std::min(cap, ceiling);
  }

  // An answer the caller accepted.
  void succeeded(int max_inflight, int64_t now) {
    last_success_us = now;
    streak = 0;
    if (cap >= max_inflight) return;
    if (cap < ceiling || now >= ceiling_until_us) {
      ++cap;
      if (cap > ceiling) {  // probing above the last limit seen
        ceiling = cap;
        ceiling_until_us = now + kCeilingUs;
      }
    }
  }
};

}  // namespace qxt
