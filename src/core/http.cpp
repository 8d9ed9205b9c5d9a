// libcurl multi-interface transport.  See http.hpp.  The only file of the
// project that includes curl.h.
#include "http.hpp"

#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <mutex>
#include <new>
#include <optional>
#include <vector>

#include "errors.hpp"

// CURLOPT_PREREQFUNCTION (7.80) and CURLOPT_QUICK_EXIT (7.87) carry the
// guarantees of http.hpp; an older libcurl must not build silently without.
static_assert(LIBCURL_VERSION_NUM >= 0x075700, "libcurl 7.87 or later is required");

namespace qxt {

namespace {

using Clock = std::chrono::steady_clock;

constexpr long kPollStepMs = 10;  // how often a cancel is looked at
constexpr long kGatePollMs = 2;   // how often a request waiting for the gate asks again

void global_init_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
      throw QxtError(make_error(ErrorKind::Internal, "could not initialise libcurl"));
  });
}

// Blocks every signal of the calling thread while alive.  libcurl starts its
// resolver thread inside curl_multi_perform, and a new thread inherits the
// mask of the thread that creates it: so the resolver thread can never run
// a signal handler of the embedding program (PostgreSQL's handlers assume
// the main thread).  Signals that arrive meanwhile stay pending and are
// handled by this thread as soon as the mask is restored.
class SignalsBlocked {
 public:
  SignalsBlocked() {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old_);
  }
  ~SignalsBlocked() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }
  SignalsBlocked(const SignalsBlocked&) = delete;
  SignalsBlocked& operator=(const SignalsBlocked&) = delete;

 private:
  sigset_t old_;
};

}  // namespace

bool could_not_connect(TransportFailure f) {
  return f == TransportFailure::Refused || f == TransportFailure::Resolve ||
         f == TransportFailure::ConnectTimeout || f == TransportFailure::Tls;
}

bool answer_lost(TransportFailure f) {
  return f == TransportFailure::Closed || f == TransportFailure::Truncated ||
         f == TransportFailure::SendError || f == TransportFailure::RecvError;
}

long backoff_ms(int attempt, long retry_after_s, unsigned random_bits) {
  long base = 200;
  for (int i = 1; i < attempt && base < 3000; ++i) base *= 2;
  base = std::min(base, 3000L);
  long jittered = base / 2 + static_cast<long>(random_bits % static_cast<unsigned>(base / 2 + 1));
  if (retry_after_s > 0) jittered = std::max(jittered, std::min(retry_after_s, 5L) * 1000);
  return jittered;
}

namespace {

// A socket opened through our callback, identified beyond its number: libcurl
// 7.88 closes a socket that never finished connecting (a connect timeout, a
// cancel while connecting) with close() instead of the close callback, and
// the number may be reused at once.  Device and inode tell ours apart.
struct OwnedSocket {
  int fd;
  dev_t dev;
  ino_t ino;
};

// The descriptor bookkeeping of a pool, shared with libcurl's callbacks.
struct PoolState {
  SocketBudget budget;
  long held = 0;         // descriptors held from the budget
  long connections = 0;  // sockets opened
  std::vector<OwnedSocket> sockets;

  // Counting happens only with both hooks set.
  bool counting() const noexcept { return budget.acquire != nullptr && budget.release != nullptr; }
  bool acquire_one() noexcept {
    if (!counting()) return true;
    if (!budget.acquire()) return false;
    ++held;
    return true;
  }
  void release(long n) noexcept {
    if (!counting()) return;
    for (; n > 0; --n) {
      budget.release();
      --held;
    }
  }
  bool acquire(long n) noexcept {
    for (long i = 0; i < n; ++i) {
      if (!acquire_one()) {
        release(i);
        return false;
      }
    }
    return true;
  }

  // Releases the budget of every socket of ours that libcurl closed without
  // telling us.
  void reconcile() noexcept {
    auto gone = [&](const OwnedSocket& o) {
      struct stat st;
      if (::fstat(o.fd, &st) == 0 && st.st_dev == o.dev && st.st_ino == o.ino) return false;
      release(1);
      return true;
    };
    sockets.erase(std::remove_if(sockets.begin(), sockets.end(), gone), sockets.end());
  }
};

struct Slot {
  PoolState* owner = nullptr;
  CURL* easy = nullptr;
  bool busy = false;
  std::size_t index = 0;
  int attempt = 0;  // 0 = first attempt
  HttpRequest request;
  std::string url;
  Transfer transfer;
  std::size_t cap = 0;
  bool too_large = false;
  int prereq_calls = 0;        // times libcurl was about to send the request
  bool resend_refused = false; // libcurl wanted to send it a second time
  bool fd_refused = false;     // the budget refused a descriptor
  GateRequest gate_req;        // what the gate admitted (when gated)
  bool gated = false;          // the gate counts this attempt in flight
  Clock::time_point started_at;
  long reserved = 0;           // resolver reservation held (descriptors)
  curl_slist* headers = nullptr;
  char errbuf[CURL_ERROR_SIZE];

  void release_reservation() noexcept {
    owner->release(reserved);
    reserved = 0;
  }
};

std::size_t write_body(char* data, std::size_t size, std::size_t nmemb, void* user) {
  auto* slot = static_cast<Slot*>(user);
  std::size_t len = size * nmemb;
  if (slot->transfer.body.size() + len > slot->cap) {
    slot->too_large = true;
    return 0;  // makes curl fail the transfer with CURLE_WRITE_ERROR
  }
  try {
    slot->transfer.body.append(data, len);
  } catch (...) {
    return 0;  // no exception may cross libcurl's C frames
  }
  return len;
}

// Called right before the request is sent, on a new or a reused connection.
// A second call within one attempt is libcurl re-sending the request after
// the connection died without an answer byte (Curl_retry_request, on a new
// connection or on another idle one): the vendor may have received and
// charged the first, so it is refused.
int on_prereq(void* user, char*, char*, int, int) {
  auto* s = static_cast<Slot*>(user);
  if (++s->prereq_calls > 1) {
    s->resend_refused = true;
    return CURL_PREREQFUNC_ABORT;
  }
  return CURL_PREREQFUNC_OK;
}

// A name resolution is about to start (a resolver thread, its socketpair,
// and getaddrinfo's own descriptors): reserve for it.  Released when the
// first socket of the connection opens (the resolution is over) or the
// attempt ends.
int on_resolver_start(void*, void*, void* user) {
  auto* s = static_cast<Slot*>(user);
  if (!s->owner->acquire(kResolverFds)) {
    s->fd_refused = true;
    return 1;  // libcurl fails the resolution
  }
  s->reserved += kResolverFds;
  return 0;
}

curl_socket_t on_open_socket(void* user, curlsocktype, struct curl_sockaddr* addr) {
  auto* s = static_cast<Slot*>(user);
  PoolState* m = s->owner;
  if (s->prereq_calls > 0) {
    // A new connection after the request went out can only be libcurl
    // reconnecting to send it again (see on_prereq): refused before it
    // even connects.
    s->resend_refused = true;
    return CURL_SOCKET_BAD;
  }
  s->release_reservation();
  m->reconcile();  // a number libcurl closed behind our back may come back now
  if (!m->acquire_one()) {
    s->fd_refused = true;
    return CURL_SOCKET_BAD;
  }
  int fd = ::socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
  struct stat st;
  if (fd < 0 || ::fstat(fd, &st) != 0) {
    if (fd >= 0) ::close(fd);
    m->release(1);
    return CURL_SOCKET_BAD;
  }
  try {
    m->sockets.push_back(OwnedSocket{fd, st.st_dev, st.st_ino});
  } catch (...) {
    ::close(fd);
    m->release(1);
    return CURL_SOCKET_BAD;
  }
  ++m->connections;
  return fd;
}

int on_close_socket(void* user, curl_socket_t fd) {
  auto* m = static_cast<PoolState*>(user);
  struct stat st;
  if (::fstat(fd, &st) == 0) {
    for (std::size_t i = 0; i < m->sockets.size(); ++i) {
      const OwnedSocket& o = m->sockets[i];
      if (o.fd == fd && o.dev == st.st_dev && o.ino == st.st_ino) {
        m->sockets.erase(m->sockets.begin() + static_cast<std::ptrdiff_t>(i));
        m->release(1);
        break;
      }
    }
  }
  return ::close(fd);
}

template <typename T>
void setopt(CURL* easy, CURLoption opt, T value) {
  CURLcode rc = curl_easy_setopt(easy, opt, value);
  if (rc != CURLE_OK) {
    throw QxtError(make_error(ErrorKind::Internal, "could not configure libcurl",
                              std::string("curl_easy_setopt failed: ") +
                                  curl_easy_strerror(rc)));
  }
}

// The failure a libcurl result code stands for, before the "was it sent"
// correction in finish().
TransportFailure failure_of(CURLcode rc, bool too_large, bool reached) {
  switch (rc) {
    case CURLE_OK:
      return TransportFailure::None;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return TransportFailure::Resolve;
    case CURLE_COULDNT_CONNECT:
      return TransportFailure::Refused;
    case CURLE_OPERATION_TIMEDOUT:
      return reached ? TransportFailure::TimedOut : TransportFailure::ConnectTimeout;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_USE_SSL_FAILED:
      return TransportFailure::Tls;
    case CURLE_GOT_NOTHING:
      return TransportFailure::Closed;
    case CURLE_PARTIAL_FILE:
      return TransportFailure::Truncated;
    case CURLE_SEND_ERROR:
      return TransportFailure::SendError;
    case CURLE_RECV_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return TransportFailure::RecvError;
    case CURLE_FILESIZE_EXCEEDED:
      return TransportFailure::TooLarge;
    case CURLE_WRITE_ERROR:
      return too_large ? TransportFailure::TooLarge : TransportFailure::Other;
    default:
      return TransportFailure::Other;
  }
}

}  // namespace

struct HttpPool::Impl : PoolState {
  CURLM* multi = nullptr;
  std::vector<Slot*> slots;
  unsigned rng = 0x9e3779b9u;
  Gate* gate = nullptr;           // the current run's
  std::optional<Error> refusal;   // the gate's refusal in the current run

  explicit Impl(SocketBudget b);
  ~Impl();

  unsigned next_random() {
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
  }

  void ensure_slots(std::size_t n);
  void start(Slot* s, const HttpConfig& cfg, std::size_t index, int attempt, HttpRequest req,
             const GateRequest* admitted);
  void start_unguarded(Slot* s, const HttpConfig& cfg, std::size_t index, int attempt,
                       HttpRequest req, const GateRequest* admitted);
  void finish(Slot* s, CURLcode rc);
  void abandon(Slot* s);
  void abandon_all();
};


HttpPool::Impl::Impl(SocketBudget b) {
  budget = b;
  global_init_once();
  if (!acquire(kMultiHandleFds))
    throw QxtError(fd_budget_error("the connection pool needs 2 to start. Nothing was sent."));
  multi = curl_multi_init();
  if (multi == nullptr) {
    release(kMultiHandleFds);
    throw QxtError(make_error(ErrorKind::Internal, "could not create a libcurl multi handle"));
  }
}

HttpPool::Impl::~Impl() {
  for (Slot* s : slots) {
    if (s->busy) curl_multi_remove_handle(multi, s->easy);
    s->release_reservation();
    curl_easy_cleanup(s->easy);
    curl_slist_free_all(s->headers);
    delete s;
  }
  curl_multi_cleanup(multi);  // closes the kept-alive connections
  reconcile();
  // Anything still listed was not closed by libcurl; it is no longer ours
  // to count either way.
  release(static_cast<long>(sockets.size()));
  sockets.clear();
  release(kMultiHandleFds);
}

void HttpPool::Impl::ensure_slots(std::size_t n) {
  while (slots.size() < n) {
    auto* s = new Slot();
    s->owner = this;
    s->easy = curl_easy_init();
    if (s->easy == nullptr) {
      delete s;
      throw QxtError(make_error(ErrorKind::Internal, "could not create a libcurl handle"));
    }
    slots.push_back(s);
  }
  curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, static_cast<long>(std::max<std::size_t>(n, 4)));
}

void HttpPool::Impl::start(Slot* s, const HttpConfig& cfg, std::size_t index, int attempt,
                           HttpRequest req, const GateRequest* admitted) {
  try {
    start_unguarded(s, cfg, index, attempt, std::move(req), admitted);
  } catch (...) {
    // Nothing was sent: the gate gets its slot (and the numbers) back.
    if (admitted != nullptr && gate != nullptr && !s->busy) {
      GateRequest r = *admitted;
      gate->abandoned(r, false);
    }
    throw;
  }
}

void HttpPool::Impl::start_unguarded(Slot* s, const HttpConfig& cfg, std::size_t index,
                                     int attempt, HttpRequest req, const GateRequest* admitted) {
  CURL* e = s->easy;
  s->gated = false;
  if (admitted != nullptr) s->gate_req = *admitted;
  s->started_at = Clock::now();
  curl_easy_reset(e);  // keeps the connection cache, which the multi owns
  s->index = index;
  s->attempt = attempt;
  s->request = std::move(req);
  s->url = cfg.base_url + s->request.path;
  s->transfer = Transfer();
  s->cap = cfg.max_response_bytes;
  s->too_large = false;
  s->prereq_calls = 0;
  s->resend_refused = false;
  s->fd_refused = false;
  s->errbuf[0] = '\0';
  curl_slist_free_all(s->headers);
  s->headers = nullptr;
  std::string ct = std::string("Content-Type: ") + s->request.content_type;
  for (const char* h : {ct.c_str(), "Accept: application/json", "Expect:"}) {
    curl_slist* n = curl_slist_append(s->headers, h);
    if (n == nullptr) throw std::bad_alloc();
    s->headers = n;
  }
  setopt(e, CURLOPT_URL, s->url.c_str());
  setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  setopt(e, CURLOPT_NOSIGNAL, 1L);
  // A cancel must not wait for a resolver thread blocked in getaddrinfo:
  // libcurl then detaches the thread instead of joining it.
  setopt(e, CURLOPT_QUICK_EXIT, 1L);
  setopt(e, CURLOPT_POST, 1L);
  setopt(e, CURLOPT_POSTFIELDS, s->request.body.data());
  setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(s->request.body.size()));
  setopt(e, CURLOPT_HTTPHEADER, s->headers);
  setopt(e, CURLOPT_USERAGENT, "qxt_portability/1.0");
  setopt(e, CURLOPT_WRITEFUNCTION, write_body);
  setopt(e, CURLOPT_WRITEDATA, s);
  setopt(e, CURLOPT_PREREQFUNCTION, on_prereq);
  setopt(e, CURLOPT_PREREQDATA, s);
  setopt(e, CURLOPT_RESOLVER_START_FUNCTION, on_resolver_start);
  setopt(e, CURLOPT_RESOLVER_START_DATA, s);
  setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
  setopt(e, CURLOPT_OPENSOCKETDATA, s);
  // The pool, not the slot: a kept-alive connection outlives the transfer
  // that opened it and is closed from another transfer or at cleanup.
  setopt(e, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
  setopt(e, CURLOPT_CLOSESOCKETDATA, static_cast<void*>(static_cast<PoolState*>(this)));
  setopt(e, CURLOPT_ERRORBUFFER, s->errbuf);
  setopt(e, CURLOPT_CONNECTTIMEOUT_MS, cfg.connect_timeout_ms);
  setopt(e, CURLOPT_TIMEOUT_MS, cfg.timeout_ms);
  setopt(e, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(cfg.max_response_bytes));
  setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  if (!cfg.reuse_connections) {
    setopt(e, CURLOPT_FRESH_CONNECT, 1L);
    setopt(e, CURLOPT_FORBID_REUSE, 1L);
  }
  setopt(e, CURLOPT_TCP_NODELAY, 1L);
  setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  setopt(e, CURLOPT_SSL_VERIFYPEER, cfg.tls_verify ? 1L : 0L);
  setopt(e, CURLOPT_SSL_VERIFYHOST, cfg.tls_verify ? 2L : 0L);
  if (!cfg.ca_file.empty()) setopt(e, CURLOPT_CAINFO, cfg.ca_file.c_str());
  // An explicit proxy, or none at all: proxies from the server's
  // environment are never used implicitly.
  setopt(e, CURLOPT_PROXY, cfg.proxy.c_str());
  setopt(e, CURLOPT_PRIVATE, static_cast<void*>(s));
  CURLMcode mc = curl_multi_add_handle(multi, e);
  if (mc != CURLM_OK)
    throw QxtError(make_error(ErrorKind::Internal, "could not start a transfer",
                              curl_multi_strerror(mc)));
  s->gated = admitted != nullptr;
  s->busy = true;
}

void HttpPool::Impl::finish(Slot* s, CURLcode rc) {
  Transfer& t = s->transfer;
  curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &t.http_status);
  char* ct = nullptr;
  if (curl_easy_getinfo(s->easy, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct != nullptr)
    t.content_type = ct;
  curl_off_t ra = -1;
  if (curl_easy_getinfo(s->easy, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
    t.retry_after_s = static_cast<long>(ra);

  const bool reached = rc == CURLE_OK || s->prereq_calls > 0 || t.http_status != 0;
  t.may_have_reached_vendor = reached;
  const std::string curl_text =
      rc == CURLE_OK ? std::string() : s->errbuf[0] ? std::string(s->errbuf)
                                                    : std::string(curl_easy_strerror(rc));
  if (s->resend_refused) {
    t.failure = TransportFailure::Closed;
    t.transport_error =
        "the connection closed before any answer arrived, and libcurl's attempt to send "
        "the request again on a new connection was refused";
  } else if (s->fd_refused && !reached) {
    t.failure = TransportFailure::FdExhausted;
    t.transport_error = "the file descriptor budget refused a socket (" + curl_text + ")";
  } else {
    t.failure = failure_of(rc, s->too_large, reached);
    t.transport_error = curl_text;
    if (reached && (could_not_connect(t.failure) || t.failure == TransportFailure::FdExhausted)) {
      // The request went out on a connection that then died; what failed
      // was libcurl's reconnect, which never sent it again.
      t.failure = TransportFailure::Closed;
      t.transport_error = "the connection closed without an answer after the request was "
                          "sent (reconnecting failed: " + curl_text + ")";
    }
  }
  curl_multi_remove_handle(multi, s->easy);
  s->release_reservation();
  reconcile();
  s->busy = false;
}

void HttpPool::Impl::abandon(Slot* s) {
  if (!s->busy) return;
  if (s->gated && gate != nullptr) gate->abandoned(s->gate_req, s->prereq_calls > 0);
  s->gated = false;
  // Removing an unfinished transfer closes its connection, so a half-read
  // answer is never mistaken for the next one.
  curl_multi_remove_handle(multi, s->easy);
  s->release_reservation();
  s->busy = false;
}

void HttpPool::Impl::abandon_all() {
  for (Slot* s : slots) abandon(s);
  reconcile();
}

HttpPool::HttpPool(SocketBudget budget) : impl_(new Impl(budget)) {}
HttpPool::~HttpPool() = default;

long HttpPool::connections_opened() const { return impl_->connections; }
const Error* HttpPool::refusal() const { return impl_->refusal ? &*impl_->refusal : nullptr; }
long HttpPool::budget_held() const { return impl_->held; }

RunStatus HttpPool::run(const HttpConfig& cfg, std::size_t n,
                        const std::function<HttpRequest(std::size_t)>& make,
                        const std::function<Verdict(std::size_t, Transfer&, bool)>& on_result,
                        CancelCheck cancel) {
  CancelPolicy policy;
  policy.cancel = cancel;
  return run(cfg, n, make, on_result, policy, nullptr);
}

RunStatus HttpPool::run(const HttpConfig& cfg, std::size_t n,
                        const std::function<HttpRequest(std::size_t)>& make,
                        const std::function<Verdict(std::size_t, Transfer&, bool)>& on_result,
                        const CancelPolicy& policy, DrainReport* report) {
  Impl& m = *impl_;
  DrainReport local;
  DrainReport& rep = report != nullptr ? *report : local;
  rep = DrainReport();
  const std::size_t width = static_cast<std::size_t>(std::max(1, cfg.concurrency));
  m.ensure_slots(width);
  m.gate = cfg.gate;
  m.refusal.reset();

  // The next request to start, built once and kept while the gate says Wait.
  struct Pending {
    std::size_t index;
    int attempt;
    HttpRequest request;
    GateRequest gate_req;
  };
  std::optional<Pending> waiting;

  struct Guard {  // abandons live transfers if a callback throws; ends a wait
    Impl& m;
    std::optional<Pending>& waiting;
    ~Guard() {
      m.abandon_all();
      if (waiting && m.gate != nullptr) m.gate->stop_waiting(waiting->gate_req);
      m.gate = nullptr;
    }
  } guard{m, waiting};

  struct PendingRetry {
    std::size_t index;
    int attempt;
    Clock::time_point ready_at;
    GateRequest gate_req;
  };
  std::deque<PendingRetry> retries;
  std::size_t next = 0;
  bool stopping = false;
  bool draining = false;
  Clock::time_point cancelled_at, deadline;
  auto ms_since = [](Clock::time_point t) {
    return static_cast<long>(
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count());
  };

  for (;;) {
    if (!draining && policy.cancel != nullptr && policy.cancel()) {
      rep.cancelled = true;
      cancelled_at = Clock::now();
      // What is in flight: sent (the vendor may have it) or not yet.
      for (std::size_t i = 0; i < width; ++i) {
        Slot* s = m.slots[i];
        if (!s->busy) continue;
        if (s->prereq_calls > 0) {
          ++rep.in_flight;
        } else {
          ++rep.dropped;
          m.abandon(s);  // nothing of it went out
        }
      }
      if (policy.drain_ms <= 0 || rep.in_flight == 0) {
        rep.abandoned = rep.in_flight;
        m.abandon_all();
        return RunStatus::Cancelled;
      }
      // Drain: start nothing more; wait for what was sent.
      draining = true;
      stopping = true;
      retries.clear();
      if (waiting && m.gate != nullptr) m.gate->stop_waiting(waiting->gate_req);
      waiting.reset();
      deadline = cancelled_at + std::chrono::milliseconds(policy.drain_ms);
    }
    if (draining) {
      auto now = Clock::now();
      if (!rep.urgent && policy.urgent != nullptr && policy.urgent()) {
        rep.urgent = true;
        deadline = std::min(deadline, now + std::chrono::milliseconds(std::max(0L, policy.urgent_ms)));
      }
      if (now >= deadline) {
        for (Slot* s : m.slots)
          if (s->busy) ++rep.abandoned;
        m.abandon_all();
        rep.drain_ms_used = ms_since(cancelled_at);
        return RunStatus::Cancelled;
      }
    }

    // Fill free slots: due retries first, then new requests in order; each
    // one passes the gate first (a request it holds back waits, built, in
    // `waiting`, and nothing behind it starts before it).
    if (stopping && waiting) {  // a request held back by the gate is dropped
      if (m.gate != nullptr) m.gate->stop_waiting(waiting->gate_req);
      waiting.reset();
    }
    auto now = Clock::now();
    std::size_t active = 0;
    bool gate_wait = false;
    for (std::size_t i = 0; i < width; ++i) {
      Slot* s = m.slots[i];
      if (s->busy) {
        ++active;
        continue;
      }
      if (stopping || gate_wait) continue;
      if (!waiting) {
        if (!retries.empty() && retries.front().ready_at <= now) {
          PendingRetry r = retries.front();
          retries.pop_front();
          HttpRequest req = make(r.index);
          waiting = Pending{r.index, r.attempt, std::move(req), r.gate_req};
        } else if (next < n) {
          std::size_t idx = next++;
          HttpRequest req = make(idx);
          GateRequest g;
          g.endpoint = req.endpoint;
          g.numbers = req.numbers;
          waiting = Pending{idx, 0, std::move(req), g};
        } else {
          continue;
        }
      }
      if (m.gate == nullptr) {
        Pending p = std::move(*waiting);
        waiting.reset();
        m.start(s, cfg, p.index, p.attempt, std::move(p.request), nullptr);
        ++active;
        continue;
      }
      waiting->gate_req.attempt = waiting->attempt;
      Error why;
      switch (m.gate->admit(waiting->gate_req, &why)) {
        case Admission::Go: {
          Pending p = std::move(*waiting);
          waiting.reset();
          m.start(s, cfg, p.index, p.attempt, std::move(p.request), &p.gate_req);
          ++active;
          break;
        }
        case Admission::Wait:
          gate_wait = true;
          break;
        case Admission::Refuse:
          m.refusal = std::move(why);
          waiting.reset();
          stopping = true;
          break;
      }
    }
    if (active == 0 && !waiting && (stopping || (retries.empty() && next >= n))) {
      if (draining) {
        rep.drain_ms_used = ms_since(cancelled_at);
        return RunStatus::Cancelled;
      }
      return stopping ? RunStatus::Stopped : RunStatus::Completed;
    }

    int running = 0;
    CURLMcode mc;
    {
      SignalsBlocked blocked;  // the only call that can start a thread
      mc = curl_multi_perform(m.multi, &running);
    }
    m.reconcile();
    if (mc != CURLM_OK)
      throw QxtError(make_error(ErrorKind::Internal, "libcurl failed",
                                curl_multi_strerror(mc)));

    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(m.multi, &queued)) {
      if (msg->msg != CURLMSG_DONE) continue;
      void* priv = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
      Slot* s = static_cast<Slot*>(priv);
      CURLcode rc = msg->data.result;
      m.finish(s, rc);
      if (draining) ++rep.finished;
      bool final_attempt = s->attempt >= cfg.max_retries;
      const bool gated = s->gated;
      s->gated = false;
      Verdict v;
      try {
        v = on_result(s->index, s->transfer, final_attempt);
      } catch (...) {
        if (gated && m.gate != nullptr) m.gate->abandoned(s->gate_req, true);
        throw;
      }
      if (gated && m.gate != nullptr) {
        const Transfer& t = s->transfer;
        GateOutcome o;
        o.latency_ms = std::chrono::duration<double, std::milli>(Clock::now() - s->started_at).count();
        o.reached = t.may_have_reached_vendor;
        o.ok = v == Verdict::Done;
        // "Not now" from the vendor: HTTP 429/503, or a 200 answer the
        // caller wants retried (vendor code -8).
        o.throttled = t.failure == TransportFailure::None &&
                      (t.http_status == 429 || t.http_status == 503 ||
                       (t.http_status == 200 && v == Verdict::Retry));
        o.retry_after_s = t.retry_after_s;
        o.unfinished = o.reached && t.failure != TransportFailure::None;
        m.gate->ended(s->gate_req, o);
      }
      if (v == Verdict::Retry && !final_attempt && !stopping) {
        long wait = backoff_ms(s->attempt + 1, s->transfer.retry_after_s, m.next_random());
        PendingRetry r{s->index, s->attempt + 1, Clock::now() + std::chrono::milliseconds(wait),
                       s->gate_req};
        auto pos = std::find_if(retries.begin(), retries.end(), [&](const PendingRetry& p) {
          return p.ready_at > r.ready_at;
        });
        retries.insert(pos, r);
      } else if (v != Verdict::Done) {
        stopping = true;  // Stop, or Retry with no attempts left
      }
      s->transfer.body.clear();
      s->transfer.body.shrink_to_fit();
    }

    long wait_ms = kPollStepMs;
    if (gate_wait) {
      wait_ms = kGatePollMs;
    } else if (running == 0 && !retries.empty()) {
      auto until = std::chrono::duration_cast<std::chrono::milliseconds>(
                       retries.front().ready_at - Clock::now())
                       .count();
      wait_ms = std::max(0L, std::min<long>(kPollStepMs, until));
    } else if (running == 0) {
      wait_ms = 0;
    }
    if (wait_ms > 0) curl_multi_poll(m.multi, nullptr, 0, static_cast<int>(wait_ms), nullptr);
  }
}

}  // namespace qxt
