// HTTP transport: a per-backend pool of libcurl easy handles driven by one
// multi handle, so connections are kept alive and reused across calls.
// Requests run concurrently (one connection per slot), with retries and
// backoff decided by the caller's verdict, and a cancel check polled every
// few milliseconds so a query cancel lands quickly.  Knows nothing of the
// vendor or of PostgreSQL; it is the only file that sees libcurl.
//
// What the transport guarantees about sending:
// - libcurl never sends a request a second time on its own.  (libcurl 7.88
//   re-sends a request, on a new connection or another idle one, when a
//   reused connection died before any answer byte; that would be a second
//   payment, so the transport refuses it and reports the attempt as Closed,
//   may_have_reached_vendor.)
// - Transfer::may_have_reached_vendor is true as soon as libcurl was about
//   to send the request (on a new or a reused connection), so a caller can
//   tell "nothing went out" from "the vendor may have it" in every case.
// - Threads libcurl starts (the threaded resolver) have every signal
//   blocked, and a cancel never waits for a name resolution to finish.
// - Every socket libcurl opens is counted through the SocketBudget.
#pragma once

#include "core_only.hpp"

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "errors.hpp"
#include "gate.hpp"

namespace qxt {

struct HttpConfig {
  std::string base_url;         // e.g. "https://isp.qxt800.com" (no trailing '/')
  long connect_timeout_ms = 3000;
  long timeout_ms = 10000;      // whole transfer
  std::size_t max_response_bytes = 4u << 20;
  bool tls_verify = true;
  std::string ca_file;          // empty: the system store
  std::string proxy;            // empty: direct (environment proxies ignored)
  int max_retries = 2;          // further attempts after the first
  int concurrency = 1;          // requests in flight at once
  bool reuse_connections = true;  // keep-alive across requests and calls
  Gate* gate = nullptr;         // asked before every attempt (gate.hpp); null: none
};

struct HttpRequest {
  std::string path;          // appended to base_url, e.g. "/carrier"
  std::string body;          // POST body (never put the key in the URL)
  const char* content_type;  // e.g. "application/json"
  // For the gate: what the request is and how many numbers it carries.
  Endpoint endpoint = Endpoint::Carrier;
  std::size_t numbers = 0;
};

// The embedding program's file-descriptor budget (PostgreSQL: AcquireExternalFD
// / ReleaseExternalFD).  Plain C function pointers: they must not throw and
// must not longjmp.  `acquire` returns false when the budget is exhausted.
// Both null (the default): nothing is counted.
//
// Counted: the 2 descriptors the multi handle opens at creation (libcurl
// 7.88's wake-up socketpair), every socket libcurl opens for a connection
// (held while the connection lives, also idle in the keep-alive cache), and
// a reservation of kResolverFds while a name is being resolved (the threaded
// resolver's socketpair, and what getaddrinfo opens at a time).
struct SocketBudget {
  bool (*acquire)() = nullptr;
  void (*release)() = nullptr;
};
constexpr int kMultiHandleFds = 2;
constexpr int kResolverFds = 4;

// What went wrong with one attempt, as far as the transport can tell.
enum class TransportFailure {
  None,            // a complete HTTP answer arrived (whatever its status)
  // Could not connect: the request cannot have reached the vendor.
  Refused,         // connection refused / host unreachable
  Resolve,         // the host (or proxy) name did not resolve
  ConnectTimeout,  // no connection within the connect (or whole) time limit
  Tls,             // TLS handshake or certificate verification failed
  // After the request went out.
  TimedOut,        // no complete answer within timeout_ms
  Closed,          // closed before any answer byte ("empty reply"), or libcurl
                   // wanted to re-send it on a new connection (refused)
  Truncated,       // the answer stopped short of its announced length
  SendError,       // sending failed part-way
  RecvError,       // receiving failed
  TooLarge,        // the answer exceeded max_response_bytes
  FdExhausted,     // the SocketBudget refused a descriptor (nothing was sent)
  Other,           // anything else (malformed URL, out of memory, ...)
};

// True for the failures where no connection could be made (and so nothing
// was sent): Refused, Resolve, ConnectTimeout, Tls.
bool could_not_connect(TransportFailure f);
// True for an answer lost after the request went out: Closed, Truncated,
// SendError, RecvError.
bool answer_lost(TransportFailure f);

// What one attempt produced.
struct Transfer {
  TransportFailure failure = TransportFailure::None;
  // True when the request may have reached the vendor: libcurl was about to
  // send it (or did), or an answer arrived.  Always false for
  // could_not_connect() failures and FdExhausted; always true for
  // TimedOut, answer_lost() failures, TooLarge and None.
  bool may_have_reached_vendor = false;
  std::string transport_error;  // libcurl's own words (never the body or the key)
  long http_status = 0;         // 0 when no status line arrived
  long retry_after_s = -1;      // Retry-After header (seconds), -1 if absent
  std::string body;
  std::string content_type;
};

enum class Verdict {
  Done,   // this request is finished (the callback kept what it needed)
  Retry,  // try again after a backoff, if attempts remain
  Stop,   // finished, and start no further requests (others in flight end)
};

// Returns true when the caller wants the work abandoned (query cancel).
// Must not block, must not throw, must not call into PostgreSQL.
using CancelCheck = bool (*)();

enum class RunStatus { Completed, Stopped, Cancelled };

// What a cancel does to the requests in flight.
//
// By default (drain_ms == 0) a cancel abandons every transfer at once: the
// right choice when the caller's work rolls back anyway and a fast cancel
// matters more.
//
// With drain_ms > 0 (drain mode), a cancel stops the run from *starting*
// anything: no further request, no retry.  A request not sent yet (still
// resolving or connecting) is dropped at once, since nothing of it went
// out.  The requests already sent run on until they end, each delivered
// to on_result as usual, but for at most drain_ms after the cancel; those
// still unfinished then are abandoned.  The cancel check is not looked at
// again: a second cancel never extends the drain.  `urgent` (optional) is
// polled while draining, and from the cancel on: once it is true, the
// drain ends at most urgent_ms after that moment (never later than it
// would have anyway), e.g. for a process that was told to terminate.
struct CancelPolicy {
  CancelCheck cancel = nullptr;
  long drain_ms = 0;
  CancelCheck urgent = nullptr;
  long urgent_ms = 0;
};

// What a cancel found and did (filled by HttpPool::run when given one).
// The fields are written while the run goes on, so on_result can tell
// whether it is called during a drain.
struct DrainReport {
  bool cancelled = false;      // a cancel was seen
  bool urgent = false;         // the urgent check cut the drain short
  std::size_t in_flight = 0;   // requests already sent at the cancel (drained)
  std::size_t dropped = 0;     // requests not sent yet at the cancel, dropped
  std::size_t finished = 0;    // drained requests that ended before the deadline
  std::size_t abandoned = 0;   // drained requests still unfinished at the deadline
  long drain_ms_used = 0;      // from the cancel to the end of the run
};

class HttpPool {
 public:
  // Throws QxtError(ResourceExhausted) when the budget refuses the multi
  // handle's own descriptors.
  explicit HttpPool(SocketBudget budget = SocketBudget());
  ~HttpPool();
  HttpPool(const HttpPool&) = delete;
  HttpPool& operator=(const HttpPool&) = delete;

  // Runs requests 0..n-1.  `make(i)` builds request i when a slot is free
  // (requests are started in index order).  `on_result(i, transfer,
  // final_attempt)` is called for each attempt's outcome; a Retry verdict on
  // the final attempt, or while stopping, is treated as Stop (the callback
  // must have recorded the failure).  Returns how the run ended.
  RunStatus run(const HttpConfig& cfg, std::size_t n,
                const std::function<HttpRequest(std::size_t)>& make,
                const std::function<Verdict(std::size_t, Transfer&, bool)>& on_result,
                CancelCheck cancel);
  // The same, with a cancel policy (see CancelPolicy: abandon at once, or
  // drain); `report` (may be null) says what a cancel found and did.
  RunStatus run(const HttpConfig& cfg, std::size_t n,
                const std::function<HttpRequest(std::size_t)>& make,
                const std::function<Verdict(std::size_t, Transfer&, bool)>& on_result,
                const CancelPolicy& policy, DrainReport* report = nullptr);

  // Why the gate refused a request in the last run (nullptr when it did
  // not): that run started nothing after it and returned Stopped.
  const Error* refusal() const;

  // Sockets opened since this pool was created (for tests/benchmarks).
  long connections_opened() const;
  // Descriptors currently held from the SocketBudget (for tests).
  long budget_held() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The backoff before attempt `attempt` (1-based retry count): 200 ms doubled
// each time, with jitter in [50 %, 100 %], at most 3 s; a Retry-After from
// the server (at most 5 s) wins when larger.
long backoff_ms(int attempt, long retry_after_s, unsigned random_bits);

}  // namespace qxt
