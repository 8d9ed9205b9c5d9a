// HTTP transport: a per-backend pool of libcurl easy handles driven by one
// multi handle, so connections are kept alive and reused across calls.
// Requests run concurrently (one connection per slot), with retries and
// backoff decided by the caller's verdict, and a cancel check polled every
// few milliseconds so a query cancel lands quickly.  Knows nothing of the
// vendor or of PostgreSQL.
#pragma once

#include "core_only.hpp"

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

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
};

struct HttpRequest {
  std::string path;          // appended to base_url, e.g. "/carrier"
  std::string body;          // POST body (never put the key in the URL)
  const char* content_type;  // e.g. "application/json"
};

// What one attempt produced.
struct Transfer {
  int curl_code = 0;         // CURLcode; 0 = a complete HTTP answer arrived
  long http_status = 0;
  bool too_large = false;    // body exceeded max_response_bytes
  bool connected = false;    // a connection was established
  long retry_after_s = -1;   // Retry-After header (seconds), -1 if absent
  std::string body;
  std::string content_type;
  std::string curl_error;    // curl's error text (never contains the body)
};

enum class Verdict {
  Done,   // this request is finished (the callback kept what it needed)
  Retry,  // transient failure: try again after a backoff, if attempts remain
  Stop,   // finished, and start no further requests (others in flight end)
  Abort,  // stop at once: abandon every request in flight
};

// Returns true when the caller wants the work abandoned (query cancel).
// Must not block, must not throw, must not call into PostgreSQL.
using CancelCheck = bool (*)();

enum class RunStatus { Completed, Stopped, Cancelled };

// Classifies curl-level failures worth another attempt.
bool is_transient_transfer(const Transfer& t);

class HttpPool {
 public:
  HttpPool();
  ~HttpPool();
  HttpPool(const HttpPool&) = delete;
  HttpPool& operator=(const HttpPool&) = delete;

  // Runs requests 0..n-1.  `make(i)` builds request i when a slot is free
  // (requests are started in index order).  `on_result(i, transfer,
  // final_attempt)` is called for each attempt's outcome; a Retry verdict on
  // the final attempt is treated as Stop (the callback must have recorded
  // the failure).  Returns how the run ended.
  RunStatus run(const HttpConfig& cfg, std::size_t n,
                const std::function<HttpRequest(std::size_t)>& make,
                const std::function<Verdict(std::size_t, Transfer&, bool)>& on_result,
                CancelCheck cancel);

  // Connections opened since this pool was created (for tests/benchmarks).
  long connections_opened() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The backoff before attempt `attempt` (1-based retry count): 200 ms doubled
// each time, with jitter in [50 %, 100 %], at most 3 s; a Retry-After from
// the server (at most 5 s) wins when larger.
long backoff_ms(int attempt, long retry_after_s, unsigned random_bits);

}  // namespace qxt
