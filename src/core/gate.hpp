// The gate every request to the vendor passes: the embedding program's
// governor (in PostgreSQL, shared by every backend of the cluster when the
// library is preloaded) and its spending limits and statistics.  The core
// only asks and reports; the policy lives behind this interface, so the
// core stays free of PostgreSQL.
//
// Every call is made from the request loop (HttpPool::run) or the client on
// the calling thread, and must not throw, block or longjmp: the
// implementation answers at once, and the loop asks again while it waits
// (so a cancel is looked at as before).
#pragma once

#include "core_only.hpp"

#include <cstddef>

#include "errors.hpp"

namespace qxt {

// One request, as the gate sees it.
struct GateRequest {
  Endpoint endpoint = Endpoint::Carrier;
  std::size_t numbers = 0;  // numbers it carries (0 for /balance)
  int attempt = 0;          // 0: first attempt; n: n-th retry
  bool budgeted = false;    // its numbers are counted against the budgets
                            // (set and cleared by the gate)
  bool sent = false;        // an attempt may have reached the vendor (set by
                            // the gate): its numbers are never given back
  int slot = -1;            // the gate's own bookkeeping (which account)
  long long admitted_us = 0;  // the gate's own bookkeeping (when it went)
};

enum class Admission {
  Go,      // start it now; the gate counts it in flight until ended/abandoned
  Wait,    // not now: ask again shortly (nothing is sent meanwhile)
  Refuse,  // never: *why says why (a spending limit); nothing is sent
};

// How an admitted attempt ended.
struct GateOutcome {
  double latency_ms = 0;   // from its start to its end
  bool reached = false;    // it may have reached the vendor (may be charged)
  bool ok = false;         // a complete answer the caller accepted
  bool throttled = false;  // the vendor said "not now" (HTTP 429/503, code -8)
  bool unfinished = false; // it reached the vendor but no complete answer
                           // came back (timed out, cut off): the vendor may
                           // still be working on it
  long retry_after_s = -1; // the vendor's Retry-After, -1 when none
};

class Gate {
 public:
  virtual ~Gate() = default;
  // Before each attempt (retries included).  Wait: the loop asks again
  // within a few milliseconds.  Refuse: `*why` is filled; the loop starts
  // nothing more, lets what is in flight end, and the call raises *why.
  virtual Admission admit(GateRequest& r, Error* why) noexcept = 0;
  // An admitted attempt ended (whatever the outcome).
  virtual void ended(GateRequest& r, const GateOutcome& o) noexcept = 0;
  // An admitted attempt was abandoned unfinished (cancel, error).
  virtual void abandoned(GateRequest& r, bool reached) noexcept = 0;
  // The loop stopped while `r` was waiting to be admitted (it is never
  // sent; the gate gives back what it set aside for it).
  virtual void stop_waiting(GateRequest& r) noexcept = 0;
  // Numbers the vendor answered with success (what it charges).
  virtual void paid(Endpoint ep, std::size_t n) noexcept = 0;
  // Before a batch sends anything: true when `numbers` (what it would send
  // at most) fit the spending limits; otherwise fills *why and nothing is
  // sent (a batch that could only be paid in part would throw the part
  // away).  Default: no limits.
  virtual bool preflight(Endpoint ep, std::size_t numbers, Error* why) noexcept {
    (void)ep, (void)numbers, (void)why;
    return true;
  }
  // Numbers answered without a request: from the statement memo, or from
  // the qxt_lookups cache.
  virtual void known(Endpoint ep, std::size_t memo_hits, std::size_t cache_hits) noexcept = 0;
};

}  // namespace qxt
