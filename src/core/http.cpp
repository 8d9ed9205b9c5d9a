// libcurl multi-interface transport.  See http.hpp.
#include "http.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <mutex>
#include <new>
#include <vector>

#include "errors.hpp"

namespace qxt {

namespace {

using Clock = std::chrono::steady_clock;

constexpr long kPollStepMs = 10;  // how often a cancel is looked at

void global_init_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
      throw QxtError(make_error(ErrorKind::Internal, "could not initialise libcurl"));
  });
}

struct Slot {
  CURL* easy = nullptr;
  bool busy = false;
  std::size_t index = 0;
  int attempt = 0;  // 0 = first attempt
  HttpRequest request;
  std::string url;
  Transfer transfer;
  std::size_t cap = 0;
  curl_slist* headers = nullptr;
  char errbuf[CURL_ERROR_SIZE];
};

struct PendingRetry {
  std::size_t index;
  int attempt;
  Clock::time_point ready_at;
};

std::size_t write_body(char* data, std::size_t size, std::size_t nmemb, void* user) {
  auto* slot = static_cast<Slot*>(user);
  std::size_t len = size * nmemb;
  if (slot->transfer.body.size() + len > slot->cap) {
    slot->transfer.too_large = true;
    return 0;  // makes curl fail the transfer with CURLE_WRITE_ERROR
  }
  try {
    slot->transfer.body.append(data, len);
  } catch (...) {
    return 0;  // no exception may cross libcurl's C frames
  }
  return len;
}

int on_open_socket(void* user, curl_socket_t, curlsocktype) {
  ++*static_cast<long*>(user);
  return CURL_SOCKOPT_OK;
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

}  // namespace

bool is_transient_transfer(const Transfer& t) {
  switch (static_cast<CURLcode>(t.curl_code)) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    case CURLE_OPERATION_TIMEDOUT:
      // A connect timeout sent nothing and is safe to repeat; a transfer
      // that timed out after the request went out is not retried (the
      // vendor may already be answering it, and a vendor that needs longer
      // than qxt.timeout_ms is down: waiting again helps no one).
      return !t.connected;
    default:
      return false;
  }
}

long backoff_ms(int attempt, long retry_after_s, unsigned random_bits) {
  long base = 200;
  for (int i = 1; i < attempt && base < 3000; ++i) base *= 2;
  base = std::min(base, 3000L);
  long jittered = base / 2 + static_cast<long>(random_bits % static_cast<unsigned>(base / 2 + 1));
  if (retry_after_s > 0) jittered = std::max(jittered, std::min(retry_after_s, 5L) * 1000);
  return jittered;
}

struct HttpPool::Impl {
  CURLM* multi = nullptr;
  std::vector<Slot*> slots;
  long connections = 0;
  unsigned rng = 0x9e3779b9u;

  Impl() {
    global_init_once();
    multi = curl_multi_init();
    if (multi == nullptr)
      throw QxtError(make_error(ErrorKind::Internal, "could not create a libcurl multi handle"));
  }

  ~Impl() {
    for (Slot* s : slots) {
      if (s->busy) curl_multi_remove_handle(multi, s->easy);
      curl_easy_cleanup(s->easy);
      curl_slist_free_all(s->headers);
      delete s;
    }
    curl_multi_cleanup(multi);
  }

  unsigned next_random() {
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
  }

  void ensure_slots(std::size_t n) {
    while (slots.size() < n) {
      auto* s = new Slot();
      s->easy = curl_easy_init();
      if (s->easy == nullptr) {
        delete s;
        throw QxtError(make_error(ErrorKind::Internal, "could not create a libcurl handle"));
      }
      slots.push_back(s);
    }
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, static_cast<long>(std::max<std::size_t>(n, 4)));
  }

  void start(Slot* s, const HttpConfig& cfg, std::size_t index, int attempt,
             HttpRequest req) {
    CURL* e = s->easy;
    curl_easy_reset(e);  // keeps the connection cache, which the multi owns
    s->index = index;
    s->attempt = attempt;
    s->request = std::move(req);
    s->url = cfg.base_url + s->request.path;
    s->transfer = Transfer();
    s->cap = cfg.max_response_bytes;
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
    setopt(e, CURLOPT_POST, 1L);
    setopt(e, CURLOPT_POSTFIELDS, s->request.body.data());
    setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(s->request.body.size()));
    setopt(e, CURLOPT_HTTPHEADER, s->headers);
    setopt(e, CURLOPT_USERAGENT, "qxt_portability/1.0");
    setopt(e, CURLOPT_WRITEFUNCTION, write_body);
    setopt(e, CURLOPT_WRITEDATA, s);
    setopt(e, CURLOPT_SOCKOPTFUNCTION, on_open_socket);
    setopt(e, CURLOPT_SOCKOPTDATA, &connections);
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
    s->busy = true;
  }

  void finish(Slot* s, CURLcode rc) {
    Transfer& t = s->transfer;
    t.curl_code = static_cast<int>(rc);
    curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &t.http_status);
    long connect_code = 0;
    curl_easy_getinfo(s->easy, CURLINFO_HTTP_CONNECTCODE, &connect_code);
    double connect_time = 0;
    curl_easy_getinfo(s->easy, CURLINFO_CONNECT_TIME, &connect_time);
    t.connected = connect_time > 0.0 || t.http_status != 0;
    char* ct = nullptr;
    if (curl_easy_getinfo(s->easy, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct != nullptr)
      t.content_type = ct;
    curl_off_t ra = -1;
    if (curl_easy_getinfo(s->easy, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
      t.retry_after_s = static_cast<long>(ra);
    if (rc == CURLE_FILESIZE_EXCEEDED) t.too_large = true;
    if (rc != CURLE_OK) t.curl_error = s->errbuf[0] ? s->errbuf : curl_easy_strerror(rc);
    curl_multi_remove_handle(multi, s->easy);
    s->busy = false;
  }

  void abandon_all() {
    for (Slot* s : slots) {
      if (s->busy) {
        // Removing an unfinished transfer closes its connection, so a
        // half-read answer is never mistaken for the next one.
        curl_multi_remove_handle(multi, s->easy);
        s->busy = false;
      }
    }
  }
};

HttpPool::HttpPool() : impl_(new Impl()) {}
HttpPool::~HttpPool() = default;

long HttpPool::connections_opened() const { return impl_->connections; }

RunStatus HttpPool::run(const HttpConfig& cfg, std::size_t n,
                        const std::function<HttpRequest(std::size_t)>& make,
                        const std::function<Verdict(std::size_t, Transfer&, bool)>& on_result,
                        CancelCheck cancel) {
  Impl& m = *impl_;
  const std::size_t width = static_cast<std::size_t>(std::max(1, cfg.concurrency));
  m.ensure_slots(width);

  struct Guard {  // abandons live transfers if a callback throws
    Impl& m;
    ~Guard() { m.abandon_all(); }
  } guard{m};

  std::deque<PendingRetry> retries;
  std::size_t next = 0;
  bool stopping = false;

  for (;;) {
    if (cancel != nullptr && cancel()) {
      m.abandon_all();
      return RunStatus::Cancelled;
    }

    // Fill free slots: due retries first, then new requests in order.
    auto now = Clock::now();
    std::size_t active = 0;
    for (std::size_t i = 0; i < width; ++i) {
      Slot* s = m.slots[i];
      if (s->busy) {
        ++active;
        continue;
      }
      if (!stopping && !retries.empty() && retries.front().ready_at <= now) {
        PendingRetry r = retries.front();
        retries.pop_front();
        m.start(s, cfg, r.index, r.attempt, make(r.index));
        ++active;
      } else if (!stopping && next < n) {
        std::size_t idx = next++;
        m.start(s, cfg, idx, 0, make(idx));
        ++active;
      }
    }
    if (active == 0 && (stopping || (retries.empty() && next >= n)))
      return stopping ? RunStatus::Stopped : RunStatus::Completed;

    int running = 0;
    CURLMcode mc = curl_multi_perform(m.multi, &running);
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
      bool final_attempt = s->attempt >= cfg.max_retries;
      Verdict v = on_result(s->index, s->transfer, final_attempt);
      if (v == Verdict::Retry && !final_attempt && !stopping) {
        long wait = backoff_ms(s->attempt + 1, s->transfer.retry_after_s, m.next_random());
        PendingRetry r{s->index, s->attempt + 1, Clock::now() + std::chrono::milliseconds(wait)};
        auto pos = std::find_if(retries.begin(), retries.end(), [&](const PendingRetry& p) {
          return p.ready_at > r.ready_at;
        });
        retries.insert(pos, r);
      } else if (v == Verdict::Abort) {
        m.abandon_all();
        return RunStatus::Stopped;
      } else if (v != Verdict::Done) {
        stopping = true;  // Stop, or Retry with no attempts left
      }
      s->transfer.body.clear();
      s->transfer.body.shrink_to_fit();
    }

    long wait_ms = kPollStepMs;
    if (running == 0 && !retries.empty()) {
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
