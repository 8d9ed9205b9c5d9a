// The gate of every request (gate.hpp): spending limits, the cluster-wide
// governor and the usage statistics.
//
// With the library in shared_preload_libraries, one shared table per vendor
// account (identified by a fingerprint of the key, never the key) holds the
// requests in flight of every backend, a token bucket and a "hold" the
// vendor's throttling sets for everyone; each backend's slot says how many
// requests it holds and whether (and since when) it waits.  Without preload
// there is no shared memory: each backend goes on alone, as before, and
// qxt.daily_budget refuses (it cannot be kept).
//
// Everything here that the core calls (the Gate methods) runs inside the
// C++ boundary: it takes a spinlock for a few dozen instructions and never
// raises.  The PostgreSQL parts (settings, identity of the statement, the
// day) are read before, into plain data (QxtGateParams).
#include "qxt_pg.hpp"
#include "stats.hpp"
#include "throttle.hpp"

#include <time.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>

extern "C" {
#include "pgstat.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/timestamp.h"
#include "pgtime.h"
}

namespace {

constexpr int kAccounts = 256;     // vendor keys governed at once (more: not governed, LOG)
constexpr int kDailyRoles = 1024;  // roles with a daily budget counted at once
constexpr int64_t kStaleWaiterUs = 100 * 1000;  // a waiter silent this long is gone
constexpr int kOrphans = 1024;     // abandoned requests still counted at once (all accounts)
constexpr int64_t kOrphanMinUs = 1000 * 1000;    // an orphan counts at least this long
constexpr int64_t kOrphanMaxUs = 60 * 1000 * 1000;  // ... and at most this long

struct GovAccount {
  uint64 fp;              // fingerprint of the key (0: free)
  int inflight;           // requests in flight, every backend
  uint64 tickets;         // last waiting ticket handed out
  int64_t next_token_us;  // token bucket: the earliest start of the next request
  qxt::Throttle throttle;  // holds and the vendor's limit (core/throttle.hpp)
  int64_t last_used_us;
  int64_t latency_us[3];  // the vendor's time per endpoint (moving average of answers)
};

// A request abandoned after it may have reached the vendor (a cancel, a
// statement_timeout, an error elsewhere in the batch): the vendor goes on
// working on it, so it stays counted in flight for as long as the vendor
// would take, not until the client stops waiting.
struct GovOrphan {
  int account;       // -1: free
  int64_t until_us;  // counted in flight until then
};

struct GovBackend {
  int account;        // index of the account it holds or waits for; -1: none
  int held;           // requests it has in flight
  bool waiting;
  uint64 ticket;      // its place in the queue while waiting
  int64_t polled_us;  // when it last asked
};

struct GovDaily {
  Oid role;     // InvalidOid: free
  int32 day;    // yyyymmdd in log_timezone
  int64 spent;  // numbers sent (or reserved for a request being sent) that day
};

struct GovShared {
  slock_t mutex;
  GovAccount accounts[kAccounts];
  GovDaily daily[kDailyRoles];
  GovOrphan orphans[kOrphans];
  int norphans;            // entries in use
  int64_t next_orphan_us;  // the earliest until_us among them
  int nbackends;
  GovBackend backends[FLEXIBLE_ARRAY_MEMBER];
};

GovShared* g_gov = nullptr;
shmem_request_hook_type prev_shmem_request = nullptr;
shmem_startup_hook_type prev_shmem_startup = nullptr;
int g_exit_pid = 0;

int64_t g_no_unit_spent = 0;  // when no statement unit is known (never in practice)
bool g_warned_ungoverned = false;   // logged once per backend
bool g_ungoverned_pending = false;  // to log at the next PostgreSQL part

Size gov_size(void) {
  return add_size(offsetof(GovShared, backends),
                  mul_size(static_cast<Size>(MaxBackends + 1), sizeof(GovBackend)));
}

void gov_shmem_request(void) {
  if (prev_shmem_request) prev_shmem_request();
  RequestAddinShmemSpace(gov_size());
}

void gov_shmem_startup(void) {
  if (prev_shmem_startup) prev_shmem_startup();
  bool found = false;
  LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
  g_gov = static_cast<GovShared*>(ShmemInitStruct("qxt_portability governor", gov_size(), &found));
  if (!found) {
    std::memset(static_cast<void*>(g_gov), 0, gov_size());  // (raw shared memory)
    SpinLockInit(&g_gov->mutex);
    g_gov->nbackends = MaxBackends + 1;
    for (int i = 0; i < g_gov->nbackends; ++i) g_gov->backends[i].account = -1;
    for (GovOrphan& o : g_gov->orphans) o.account = -1;
  }
  LWLockRelease(AddinShmemInitLock);
}

int64_t now_us() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

GovBackend* my_slot() {
  if (g_gov == nullptr || MyBackendId < 1 || MyBackendId >= g_gov->nbackends) return nullptr;
  return &g_gov->backends[MyBackendId];
}

// At backend exit: whatever this backend still holds goes back.
void gov_exit(int, Datum) {
  GovBackend* me = my_slot();
  if (me == nullptr) return;
  SpinLockAcquire(&g_gov->mutex);
  if (me->account >= 0 && me->held > 0) {
    GovAccount& a = g_gov->accounts[me->account];
    a.inflight = std::max(0, a.inflight - me->held);
  }
  me->account = -1;
  me->held = 0;
  me->waiting = false;
  SpinLockRelease(&g_gov->mutex);
}

// Under the mutex: abandoned requests the vendor is done with by now leave
// their accounts' counts in flight.
void expire_orphans(int64_t now) {
  if (g_gov->norphans == 0 || now < g_gov->next_orphan_us) return;
  int64_t next = INT64_MAX;
  for (GovOrphan& o : g_gov->orphans) {
    if (o.account < 0) continue;
    if (o.until_us <= now) {
      GovAccount& a = g_gov->accounts[o.account];
      a.inflight = std::max(0, a.inflight - 1);
      o.account = -1;
      --g_gov->norphans;
    } else {
      next = std::min(next, o.until_us);
    }
  }
  g_gov->next_orphan_us = next;
}

// Under the mutex: counts an abandoned request of account `ai` in flight
// until `until`; false when that is past or the table is full (the caller
// then lets its slot go at once).
bool keep_orphan(int ai, int64_t until, int64_t now) {
  if (until <= now || g_gov->norphans >= kOrphans) return false;
  for (GovOrphan& o : g_gov->orphans) {
    if (o.account >= 0) continue;
    o.account = ai;
    o.until_us = until;
    ++g_gov->norphans;
    g_gov->next_orphan_us = std::min(g_gov->next_orphan_us, until);
    return true;
  }
  return false;
}

// Under the mutex: the account of `fp`, taking a free (or idle) entry for a
// new one; -1 when every entry is busy with another key.
int account_index(uint64 fp, int64_t now) {
  int free_idx = -1;
  int64_t oldest = INT64_MAX;
  for (int i = 0; i < kAccounts; ++i) {
    GovAccount& a = g_gov->accounts[i];
    if (a.fp == fp) return i;
    if (a.inflight == 0 && !a.throttle.holding(now) && a.last_used_us < oldest) {
      bool waited_on = false;
      for (int b = 0; b < g_gov->nbackends && !waited_on; ++b)
        waited_on = g_gov->backends[b].account == i &&
                    (g_gov->backends[b].held > 0 || g_gov->backends[b].waiting);
      if (!waited_on) {
        oldest = a.last_used_us;
        free_idx = i;
      }
    }
  }
  if (free_idx >= 0) {
    GovAccount& a = g_gov->accounts[free_idx];
    a = GovAccount{};
    a.fp = fp;
  }
  return free_idx;
}

// Under the mutex: the day's counter of `role` (a new or stale entry taken);
// nullptr when the table is full of other roles' counters of that day.
GovDaily* daily_entry(Oid role, int32 day) {
  GovDaily* take = nullptr;
  for (GovDaily& d : g_gov->daily) {
    if (d.role == role) {
      // A new day starts the count again; a session still on an earlier
      // day (its call began before midnight, or another log_timezone)
      // counts against the newer one, never resets it.
      if (day > d.day) {
        d.day = day;
        d.spent = 0;
      }
      return &d;
    }
    if (take == nullptr && (d.role == InvalidOid || d.day < day)) take = &d;
  }
  if (take != nullptr) {
    take->role = role;
    take->day = day;
    take->spent = 0;
  }
  return take;
}

QxtStatEndpoint stat_endpoint(qxt::Endpoint ep) {
  switch (ep) {
    case qxt::Endpoint::Carrier: return QxtStatEndpoint::Carrier;
    case qxt::Endpoint::CarrierBatch: return QxtStatEndpoint::CarrierBatch;
    case qxt::Endpoint::Balance: return QxtStatEndpoint::Balance;
  }
  return QxtStatEndpoint::Carrier;
}

std::string num(int64_t v) { return std::to_string(v); }
std::string numbers(int64_t v) { return num(v) + (v == 1 ? " number" : " numbers"); }

class QxtGate final : public qxt::Gate {
 public:
  explicit QxtGate(const QxtGateParams& p) : p_(p) {}
  ~QxtGate() override { end_wait(false); }


  qxt::Admission admit(qxt::GateRequest& r, qxt::Error* why) noexcept override {
    try {
      if (r.endpoint != qxt::Endpoint::Balance && !r.budgeted && !reserve(r, why))
        return qxt::Admission::Refuse;
    } catch (...) {
      *why = qxt::make_error(qxt::ErrorKind::Internal, "the spending limits could not be checked");
      return qxt::Admission::Refuse;
    }
    if (g_gov == nullptr) return qxt::Admission::Go;
    if (govern(r)) {
      end_wait(true);
      return qxt::Admission::Go;
    }
    if (!waiting_) {
      waiting_ = true;
      wait_since_ = now_us();
      wait_ep_ = r.endpoint;
      pgstat_report_wait_start(PG_WAIT_EXTENSION);
    }
    return qxt::Admission::Wait;
  }

  void ended(qxt::GateRequest& r, const qxt::GateOutcome& o) noexcept override {
    release(r, o.throttled, o.ok, o.retry_after_s, o.unfinished, o.ok ? o.latency_ms : -1);
    if (o.reached) r.sent = true;
    refund(r);
    QxtStatDelta d;
    if (o.reached) {
      d.requests = 1;
      d.numbers_sent = static_cast<int64_t>(r.numbers);
      d.latency_ms = o.latency_ms;
    }
    d.errors = o.ok ? 0 : 1;
    d.retries = r.attempt > 0 ? 1 : 0;
    qxt_stats_add(stat_endpoint(r.endpoint), d);
  }

  void abandoned(qxt::GateRequest& r, bool reached) noexcept override {
    release(r, false, false, -1, reached, -1);
    if (reached) r.sent = true;
    refund(r);
    QxtStatDelta d;
    if (reached) {
      d.requests = 1;
      d.numbers_sent = static_cast<int64_t>(r.numbers);
    }
    d.errors = 1;
    d.retries = r.attempt > 0 ? 1 : 0;
    qxt_stats_add(stat_endpoint(r.endpoint), d);
  }

  void stop_waiting(qxt::GateRequest& r) noexcept override {
    refund(r);  // (a retry whose first attempt went out keeps its numbers)
    end_wait(true);
    GovBackend* me = my_slot();
    if (me != nullptr) {
      SpinLockAcquire(&g_gov->mutex);
      me->waiting = false;
      if (me->held == 0) me->account = -1;
      SpinLockRelease(&g_gov->mutex);
    }
  }

  void paid(qxt::Endpoint ep, std::size_t n) noexcept override {
    if (n == 0) return;
    QxtStatDelta d;
    d.numbers_paid = static_cast<int64_t>(n);
    qxt_stats_add(stat_endpoint(ep), d);
  }

  bool preflight(qxt::Endpoint, std::size_t numbers, qxt::Error* why) noexcept override {
    try {
      const int64_t n = static_cast<int64_t>(numbers);
      const int64_t spent = *spent_;
      if (p_.statement_budget >= 0 && spent + n > p_.statement_budget) {
        *why = statement_error(spent, n, true);
        return false;
      }
      if (p_.daily_budget >= 0 && g_gov != nullptr) {
        int64_t today = 0;
        SpinLockAcquire(&g_gov->mutex);
        for (const GovDaily& d : g_gov->daily)
          if (d.role == p_.role && d.day >= p_.day) today = d.spent;
        SpinLockRelease(&g_gov->mutex);
        if (today + n > p_.daily_budget) {
          *why = daily_error(today, n, true);
          return false;
        }
      }
      return true;
    } catch (...) {
      *why = qxt::make_error(qxt::ErrorKind::Internal, "the spending limits could not be checked");
      return false;
    }
  }

  void known(qxt::Endpoint ep, std::size_t memo_hits, std::size_t cache_hits) noexcept override {
    if (memo_hits == 0 && cache_hits == 0) return;
    QxtStatDelta d;
    d.memo_hits = static_cast<int64_t>(memo_hits);
    d.cache_hits = static_cast<int64_t>(cache_hits);
    qxt_stats_add(stat_endpoint(ep), d);
  }

 private:
  // The spending limits, before a paid request's first attempt (and again
  // after an attempt that sent nothing gave its numbers back).
  bool reserve(qxt::GateRequest& r, qxt::Error* why) {
    const int64_t n = static_cast<int64_t>(r.numbers);
    if (p_.statement_budget >= 0 && *spent_ + n > p_.statement_budget) {
      *why = statement_error(*spent_, n, false);
      return false;
    }
    if (p_.daily_budget >= 0) {
      if (g_gov == nullptr) {
        *why = qxt::make_error(
            qxt::ErrorKind::NotPreloaded,
            "qxt.daily_budget is set, but it can be kept only with qxt_portability in "
            "shared_preload_libraries",
            "qxt.daily_budget = " + num(p_.daily_budget) +
                ". The daily count is shared by every session of a role, in shared memory, "
                "which exists only when the library is loaded at server start. Nothing was sent.",
            "A superuser adds qxt_portability to shared_preload_libraries and restarts the "
            "server, or resets qxt.daily_budget.");
        return false;
      }
      int64_t spent = 0;
      bool full = false, over = false;
      SpinLockAcquire(&g_gov->mutex);
      GovDaily* d = daily_entry(p_.role, p_.day);
      if (d == nullptr) {
        full = true;
      } else if (d->spent + n > p_.daily_budget) {
        over = true;
        spent = d->spent;
      } else {
        d->spent += n;
      }
      SpinLockRelease(&g_gov->mutex);
      if (full) {
        *why = qxt::make_error(qxt::ErrorKind::DailyBudget,
                               "the daily budgets of too many roles are being counted",
                               "The shared table holds " + num(kDailyRoles) +
                                   " roles' counts for today. Nothing was sent.",
                               "Retry tomorrow, or give fewer roles a qxt.daily_budget.");
        return false;
      }
      if (over) {
        *why = daily_error(spent, n, false);
        return false;
      }
      daily_reserved_ = true;
    }
    *spent_ += n;
    r.budgeted = true;
    return true;
  }

  qxt::Error statement_error(int64_t spent, int64_t n, bool whole_batch) const {
    return qxt::make_error(
        qxt::ErrorKind::StatementBudget,
        "qxt.statement_budget reached: this statement may send " + num(p_.statement_budget) +
            " numbers for paid lookups",
        "It has sent " + num(spent) + "; " +
            (whole_batch ? "the batch would send " + numbers(n) + " and sent none of them"
                         : "the next request carries " + numbers(n) + " and was not sent") +
            ". Nothing beyond the budget was sent or charged.",
        "Spent by this statement: " + num(spent) + " of " + num(p_.statement_budget) +
            " numbers. Look up fewer numbers per statement, or ask a superuser to raise "
            "qxt.statement_budget for your role. qxt_refresh keeps what it paid and resumes "
            "where it stopped.");
  }

  qxt::Error daily_error(int64_t spent, int64_t n, bool whole_batch) const {
    const std::string role(p_.role_name);
    return qxt::make_error(
        qxt::ErrorKind::DailyBudget,
        "qxt.daily_budget reached: role \"" + role + "\" may send " + num(p_.daily_budget) +
            " numbers for paid lookups per day",
        "Today (" + num(p_.day) + ", server time zone) it has sent " + num(spent) + "; " +
            (whole_batch ? "the batch would send " + numbers(n) + " and sent none of them"
                         : "the next request carries " + numbers(n) + " and was not sent") +
            ". Nothing beyond the budget was sent or charged.",
        "Spent today by \"" + role + "\": " + num(spent) + " of " + num(p_.daily_budget) +
            " numbers. The count starts again at midnight (log_timezone); a superuser can "
            "raise it with ALTER ROLE ... SET qxt.daily_budget. qxt_refresh keeps what it "
            "paid and resumes where it stopped.");
  }

  // Gives back the numbers of a request none of whose attempts can have
  // reached the vendor.
  void refund(qxt::GateRequest& r) noexcept {
    if (!r.budgeted || r.sent) return;
    r.budgeted = false;
    const int64_t n = static_cast<int64_t>(r.numbers);
    *spent_ = std::max<int64_t>(0, *spent_ - n);
    if (daily_reserved_ && g_gov != nullptr) {
      SpinLockAcquire(&g_gov->mutex);
      for (GovDaily& d : g_gov->daily)
        if (d.role == p_.role && d.day == p_.day) d.spent = std::max<int64_t>(0, d.spent - n);
      SpinLockRelease(&g_gov->mutex);
    }
  }

  // The governor: true when the request may start now (and is counted in
  // flight); otherwise this backend waits its turn.  Fair: among the
  // backends waiting for the same account, the one holding fewest requests
  // goes first, then the one waiting longest; so a single lookup is never
  // queued behind all of a big batch.
  bool govern(qxt::GateRequest& r) noexcept {
    GovBackend* me = my_slot();
    const int64_t now = now_us();
    bool go = false;
    SpinLockAcquire(&g_gov->mutex);
    expire_orphans(now);
    const int ai = account_index(p_.account_fp, now);
    if (ai < 0) {  // every entry busy with other keys: not governed
      SpinLockRelease(&g_gov->mutex);
      r.slot = -1;
      if (!g_warned_ungoverned) {
        g_warned_ungoverned = true;
        g_ungoverned_pending = true;
      }
      return true;
    }
    GovAccount& a = g_gov->accounts[ai];
    a.last_used_us = now;
    if (me != nullptr) {
      if (!me->waiting || me->account != ai) {
        me->waiting = true;
        me->ticket = ++a.tickets;
      }
      me->account = ai;
      me->polled_us = now;
    }
    const int free_slots = std::min(p_.max_inflight, a.throttle.cap) - a.inflight;
    if (free_slots > 0 && !a.throttle.holding(now) &&
        (p_.max_requests_per_s <= 0 || now >= a.next_token_us)) {
      int ahead = 0;
      if (me != nullptr) {
        for (int b = 0; b < g_gov->nbackends; ++b) {
          const GovBackend& o = g_gov->backends[b];
          if (&o == me || !o.waiting || o.account != ai || now - o.polled_us > kStaleWaiterUs)
            continue;
          if (o.held < me->held || (o.held == me->held && o.ticket < me->ticket)) ++ahead;
        }
      }
      // With a rate limit only one request starts per token.
      go = ahead < (p_.max_requests_per_s > 0 ? 1 : free_slots);
      if (go) {
        ++a.inflight;
        if (me != nullptr) {
          ++me->held;
          me->waiting = false;
        }
        if (p_.max_requests_per_s > 0)
          a.next_token_us = std::max(a.next_token_us, now) + 1000000 / p_.max_requests_per_s;
      }
    }
    SpinLockRelease(&g_gov->mutex);
    if (go) {
      r.slot = ai;
      r.admitted_us = now;
    }
    return go;
  }

  // An admitted request ended: its slot goes back; a throttling answer
  // holds every backend of the account back together.  One that reached
  // the vendor but got no complete answer (`orphan`: abandoned by a cancel
  // or statement_timeout, timed out by qxt.timeout_ms, cut off) keeps its
  // slot while the vendor is likely still working on it: twice the
  // vendor's usual time for the endpoint from its start, at least 1 s, at
  // most 60 s; not the session's own qxt.timeout_ms, which any role sets.
  // So neither cancels nor short time limits put more than
  // qxt.max_inflight at the vendor.  `latency_ms`: an accepted answer's
  // time (else < 0).
  void release(qxt::GateRequest& r, bool throttled, bool ok, long retry_after_s, bool orphan,
               double latency_ms) noexcept {
    if (g_gov == nullptr || r.slot < 0 || r.slot >= kAccounts) return;
    GovBackend* me = my_slot();
    const int64_t now = now_us();
    const int ep = static_cast<int>(stat_endpoint(r.endpoint));
    SpinLockAcquire(&g_gov->mutex);
    GovAccount& a = g_gov->accounts[r.slot];
    bool kept = false;
    if (orphan) {
      const int64_t life = std::clamp<int64_t>(2 * a.latency_us[ep], kOrphanMinUs, kOrphanMaxUs);
      kept = keep_orphan(r.slot, r.admitted_us + life, now);
    }
    if (latency_ms >= 0) {
      const int64_t l = static_cast<int64_t>(latency_ms * 1000.0);
      a.latency_us[ep] = a.latency_us[ep] == 0 ? l : (7 * a.latency_us[ep] + l) / 8;
    }
    r.slot = -1;
    if (!kept) a.inflight = std::max(0, a.inflight - 1);
    if (me != nullptr && me->held > 0) {
      --me->held;
      if (me->held == 0 && !me->waiting) me->account = -1;
    }
    // A throttling answer holds every backend of the account back and
    // brings its cap down to the vendor's limit (core/throttle.hpp).
    if (throttled)
      a.throttle.refused(a.inflight, r.admitted_us, retry_after_s, now);
    else if (ok)
      a.throttle.succeeded(p_.max_inflight, now);
    SpinLockRelease(&g_gov->mutex);
  }

  void end_wait(bool count) noexcept {
    if (!waiting_) return;
    waiting_ = false;
    pgstat_report_wait_end();
    if (!count) return;
    QxtStatDelta d;
    d.waits = 1;
    d.wait_ms = static_cast<double>(now_us() - wait_since_) / 1000.0;
    qxt_stats_add(stat_endpoint(wait_ep_), d);
  }

  QxtGateParams p_;
  int64_t* spent_ = p_.statement_spent != nullptr ? p_.statement_spent : &g_no_unit_spent;

  bool waiting_ = false;
  bool daily_reserved_ = false;
  int64_t wait_since_ = 0;
  qxt::Endpoint wait_ep_ = qxt::Endpoint::Carrier;
};

}  // namespace

void qxt_governor_init(void) {
  if (!process_shared_preload_libraries_in_progress) return;
  prev_shmem_request = shmem_request_hook;
  shmem_request_hook = gov_shmem_request;
  prev_shmem_startup = shmem_startup_hook;
  shmem_startup_hook = gov_shmem_startup;
}

bool qxt_governor_active(void) { return g_gov != nullptr; }

QxtGateParams qxt_gate_params(const char* apikey) {
  QxtGateParams p;
  if (g_gov != nullptr && g_exit_pid != MyProcPid) {
    before_shmem_exit(gov_exit, 0);
    g_exit_pid = MyProcPid;
  }
  if (g_ungoverned_pending) {
    g_ungoverned_pending = false;
    ereport(LOG, (errmsg("qxt_portability: a request went out without the governor: %d vendor "
                         "keys are in use at once, more than it keeps", kAccounts)));
  }
  p.max_inflight = qxt_gucs.max_inflight;
  p.max_requests_per_s = qxt_gucs.max_requests_per_s;
  p.statement_budget = qxt_gucs.statement_budget;
  p.daily_budget = qxt_gucs.daily_budget;
  p.statement_spent = qxt_statement_spend(qxt_current_statement());
  p.role = GetSessionUserId();
  if (p.daily_budget >= 0) {
    const char* name = GetUserNameFromId(p.role, true);
    snprintf(p.role_name, sizeof p.role_name, "%s", name ? name : "?");
    pg_time_t t = timestamptz_to_time_t(GetCurrentTimestamp());
    struct pg_tm* tm = pg_localtime(&t, log_timezone);
    p.day = tm ? (tm->tm_year + 1900) * 10000 + (tm->tm_mon + 1) * 100 + tm->tm_mday : 0;
  }
  p.account_fp = qxt::fingerprint("", apikey ? apikey : "");
  return p;
}

std::unique_ptr<qxt::Gate> qxt_make_gate(const QxtGateParams& p) {
  return std::unique_ptr<qxt::Gate>(new QxtGate(p));
}
