// The transport and the client over real sockets (a tiny local server):
// keep-alive reuse, retries and what is retried, concurrency, the response
// cap, cancellation, and the mapping of transport failures to errors.
#include <gtest/gtest.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>

#include "client.hpp"
#include "errors.hpp"
#include "http.hpp"
#include "mini_server.hpp"
#include "normalize.hpp"

using namespace qxt;
using qxt_test::http_ok;
using qxt_test::http_status;
using qxt_test::MiniReply;
using qxt_test::MiniRequest;
using qxt_test::MiniServer;

namespace {

const char* kSingle =
    R"({"code":0,"reason":"Succ","result":{"res":"1","Mobile":"13972565391","Area":"湖北-宜昌","Init_isp":"移动","Now_isp":"电信"}})";

Settings settings_for(const MiniServer& s) {
  Settings st;
  st.apikey = "0123456789abcdef0123456789abcdef";
  st.http.base_url = s.url();
  st.http.max_retries = 2;
  st.http.timeout_ms = 5000;
  return st;
}

MiniReply send(std::string bytes) { return {MiniReply::Send, std::move(bytes)}; }

ErrorKind kind_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const QxtError& e) {
    return e.error().kind;
  }
  ADD_FAILURE() << "no error";
  return ErrorKind::Internal;
}

std::string batch_answer(const std::string& body) {
  // Echo each requested number as a successful, unported answer.
  std::string out = "[";
  std::size_t pos = body.find('[');
  bool first = true;
  while ((pos = body.find('"', pos)) != std::string::npos) {
    std::string num = body.substr(pos + 1, 11);
    pos += 13;
    if (!first) out += ',';
    first = false;
    out += R"({"code":0,"reason":"Succ","result":{"res":"0","Mobile":")" + num +
           R"(","Area":"广东-深圳","Init_Isp":"移动","Now_Isp":"移动"}})";
  }
  return out + "]";
}

}  // namespace

TEST(Backoff, GrowsWithJitterAndHonoursRetryAfter) {
  for (unsigned r : {0u, 1u, 12345u, 0xffffffffu}) {
    long a1 = backoff_ms(1, -1, r), a2 = backoff_ms(2, -1, r), a5 = backoff_ms(5, -1, r);
    EXPECT_GE(a1, 100);
    EXPECT_LE(a1, 200);
    EXPECT_GE(a2, 200);
    EXPECT_LE(a2, 400);
    EXPECT_LE(a5, 3000);
    EXPECT_GE(backoff_ms(1, 2, r), 2000);
    EXPECT_LE(backoff_ms(1, 60, r), 5000);
  }
}

namespace {

Transfer failed_with(TransportFailure f, bool reached) {
  Transfer t;
  t.failure = f;
  t.may_have_reached_vendor = reached;
  t.transport_error = "some libcurl text";
  return t;
}

}  // namespace

// The retry policy and the error of every transport outcome, for a paid
// endpoint and for the free /balance.
TEST(Classify, EveryTransportOutcomeHasItsKindAndRetryPolicy) {
  HttpConfig cfg;
  cfg.base_url = "http://127.0.0.1:1";
  cfg.timeout_ms = 700;
  struct Case {
    TransportFailure failure;
    bool reached;
    ErrorKind kind;
    bool retry_paid;
    bool retry_balance;
  } cases[] = {
      {TransportFailure::Refused, false, ErrorKind::ConnectFailed, true, true},
      {TransportFailure::Resolve, false, ErrorKind::ConnectFailed, true, true},
      {TransportFailure::ConnectTimeout, false, ErrorKind::ConnectFailed, true, true},
      {TransportFailure::Tls, false, ErrorKind::TlsFailure, false, false},
      {TransportFailure::TimedOut, true, ErrorKind::Timeout, false, false},
      {TransportFailure::Closed, true, ErrorKind::ConnectionLost, false, true},
      {TransportFailure::Truncated, true, ErrorKind::ConnectionLost, false, true},
      {TransportFailure::SendError, true, ErrorKind::ConnectionLost, false, true},
      {TransportFailure::RecvError, true, ErrorKind::ConnectionLost, false, true},
      {TransportFailure::TooLarge, true, ErrorKind::ResponseTooLarge, false, false},
      {TransportFailure::FdExhausted, false, ErrorKind::ResourceExhausted, false, false},
      {TransportFailure::Other, true, ErrorKind::ConnectionLost, false, false},
      {TransportFailure::Other, false, ErrorKind::ConnectFailed, false, false},
  };
  for (const Case& c : cases) {
    for (Endpoint ep : {Endpoint::Carrier, Endpoint::CarrierBatch, Endpoint::Balance}) {
      const bool paid = ep != Endpoint::Balance;
      EXPECT_EQ(is_paid(ep), paid);
      TransferVerdict v;
      ASSERT_FALSE(classify_transfer(failed_with(c.failure, c.reached), ep, cfg, v));
      SCOPED_TRACE(std::to_string(static_cast<int>(c.failure)) + " " + endpoint_path(ep));
      EXPECT_EQ(v.error.kind, c.kind);
      EXPECT_EQ(v.error.sqlstate, sqlstate_of(c.kind));
      EXPECT_EQ(v.retry, paid ? c.retry_paid : c.retry_balance);
      EXPECT_FALSE(v.error.message.empty());
      EXPECT_FALSE(v.error.hint.empty());
      if (c.kind != ErrorKind::ResponseTooLarge && c.kind != ErrorKind::ResourceExhausted) {
        EXPECT_NE(v.error.detail.find("some libcurl text"), std::string::npos) << v.error.detail;
      }
      EXPECT_NE(v.error.detail.find(endpoint_path(ep)), std::string::npos) << v.error.detail;
      // A paid request that may have reached the vendor says so, and where
      // to look; one that cannot have reached it says nothing was charged.
      if (paid && c.reached) {
        EXPECT_NE(v.error.detail.find("may have received and charged it; it was not sent again"),
                  std::string::npos)
            << v.error.detail;
        if (c.kind != ErrorKind::ResponseTooLarge) {
          EXPECT_NE(v.error.hint.find("qxt_balance()"), std::string::npos) << v.error.hint;
        }
      }
      if (could_not_connect(c.failure)) {
        EXPECT_NE(v.error.detail.find("nothing was charged"), std::string::npos) << v.error.detail;
      }
    }
  }
  // The timeout names the limit that fired; 08001 is never a timeout after sending.
  TransferVerdict v;
  classify_transfer(failed_with(TransportFailure::TimedOut, true), Endpoint::Carrier, cfg, v);
  EXPECT_EQ(v.error.message, "the vendor did not answer within qxt.timeout_ms (700 ms)");
  classify_transfer(failed_with(TransportFailure::ConnectTimeout, false), Endpoint::Carrier, cfg, v);
  EXPECT_EQ(v.error.message, "could not connect to the vendor within qxt.timeout_ms (700 ms)")
      << "timeout_ms (700) is below connect_timeout_ms (3000): it is the one that fired";
  cfg.timeout_ms = 10000;
  classify_transfer(failed_with(TransportFailure::ConnectTimeout, false), Endpoint::Carrier, cfg, v);
  EXPECT_EQ(v.error.message, "could not connect to the vendor within qxt.connect_timeout_ms (3000 ms)");
  EXPECT_NE(v.error.hint.find("qxt.connect_timeout_ms"), std::string::npos);
}

TEST(Classify, HttpStatusesRetriedOnlyWhenTheyChargeNothing) {
  HttpConfig cfg;
  cfg.base_url = "http://127.0.0.1:1";
  auto verdict = [&](long status, Endpoint ep) {
    Transfer t;
    t.http_status = status;
    t.may_have_reached_vendor = true;
    TransferVerdict v;
    EXPECT_FALSE(classify_transfer(t, ep, cfg, v));
    EXPECT_EQ(v.error.sqlstate, "QX102");
    EXPECT_NE(v.error.message.find(std::to_string(status)), std::string::npos);
    return v;
  };
  for (Endpoint ep : {Endpoint::Carrier, Endpoint::CarrierBatch, Endpoint::Balance}) {
    for (long st : {429L, 503L}) EXPECT_TRUE(verdict(st, ep).retry) << st << endpoint_path(ep);
    for (long st : {301L, 400L, 403L, 404L}) EXPECT_FALSE(verdict(st, ep).retry) << st;
  }
  for (long st : {500L, 502L, 504L}) {
    for (Endpoint ep : {Endpoint::Carrier, Endpoint::CarrierBatch}) {
      TransferVerdict v = verdict(st, ep);
      EXPECT_FALSE(v.retry) << st << " on a paid endpoint may have been charged";
      EXPECT_NE(v.error.detail.find("may have processed and charged"), std::string::npos);
      EXPECT_NE(v.error.hint.find("qxt_balance()"), std::string::npos);
    }
    EXPECT_TRUE(verdict(st, Endpoint::Balance).retry) << st << " on /balance costs nothing";
  }
  Transfer ok;
  ok.http_status = 200;
  TransferVerdict v;
  EXPECT_TRUE(classify_transfer(ok, Endpoint::Balance, cfg, v));
}

TEST(Transport, ReusesOneConnectionAcrossCallsAndPostsTheKeyInTheBody) {
  std::string last_head, last_body;
  MiniServer srv([&](const MiniRequest& r, int) {
    last_head = r.head;
    last_body = r.body;
    return send(http_ok(kSingle));
  });
  Client client;
  Settings s = settings_for(srv);
  for (int i = 0; i < 5; ++i) {
    CarrierRecord r = client.carrier(s, "13972565391", nullptr);
    EXPECT_EQ(r.res, 1);
    EXPECT_EQ(r.now_isp, "电信");
  }
  EXPECT_EQ(srv.requests(), 5);
  EXPECT_EQ(srv.connections(), 1);
  EXPECT_EQ(client.pool().connections_opened(), 1);
  EXPECT_EQ(last_head.rfind("POST /carrier HTTP/1.1", 0), 0u) << last_head;
  EXPECT_EQ(last_head.find(s.apikey), std::string::npos) << "key in the request line or headers";
  EXPECT_EQ(last_body, "apikey=" + s.apikey + "&mobile=13972565391");
}

TEST(Transport, RetriesExplicitRefusalsAndMinus8ThenSucceeds) {
  MiniServer srv([&](const MiniRequest&, int i) {
    if (i == 0) return send(http_status(503));
    if (i == 1) return send(http_status(429));
    if (i == 2) return send(http_ok(R"({"code":-8,"reason":"系统错误"})"));
    return send(http_ok(kSingle));
  });
  Client client;
  Settings s = settings_for(srv);
  s.http.max_retries = 3;
  EXPECT_EQ(client.carrier(s, "13972565391", nullptr).res, 1);
  EXPECT_EQ(srv.requests(), 4);
}

TEST(Transport, GivesUpAfterMaxRetries) {
  MiniServer srv([&](const MiniRequest&, int) { return send(http_ok(R"({"code":-8,"reason":"x"})")); });
  Client client;
  Settings s = settings_for(srv);
  s.http.max_retries = 1;
  EXPECT_EQ(kind_of([&] { client.carrier(s, "13972565391", nullptr); }),
            ErrorKind::VendorSystemError);
  EXPECT_EQ(srv.requests(), 2);
}

TEST(Transport, DoesNotRetryWhatRetryingCannotFix) {
  for (const char* body : {R"({"code":-1,"reason":"x"})", R"({"code":-5,"reason":"x"})",
                           R"({"code":-6,"reason":"x"})", "<html>oops</html>"}) {
    MiniServer srv([&](const MiniRequest&, int) { return send(http_ok(body)); });
    Client client;
    EXPECT_THROW(client.carrier(settings_for(srv), "13972565391", nullptr), QxtError);
    EXPECT_EQ(srv.requests(), 1) << body;
  }
}

TEST(Transport, ResponseCapIsEnforced) {
  std::string big(300000, ' ');
  MiniServer srv([&](const MiniRequest&, int) { return send(http_ok(big + kSingle)); });
  Client client;
  Settings s = settings_for(srv);
  s.http.max_response_bytes = 100000;
  EXPECT_EQ(kind_of([&] { client.carrier(s, "13972565391", nullptr); }),
            ErrorKind::ResponseTooLarge);
  EXPECT_EQ(srv.requests(), 1);
}

TEST(Transport, TimeoutIsNotRetried) {
  MiniServer srv([&](const MiniRequest&, int) { return MiniReply{MiniReply::Hang, ""}; });
  Client client;
  Settings s = settings_for(srv);
  s.http.timeout_ms = 200;
  EXPECT_EQ(kind_of([&] { client.carrier(s, "13972565391", nullptr); }), ErrorKind::Timeout);
  EXPECT_EQ(srv.requests(), 1);
}

TEST(Transport, ConnectionRefusedIsRetriedThenReported) {
  for (Endpoint ep : {Endpoint::Carrier, Endpoint::CarrierBatch, Endpoint::Balance}) {
    Client client;
    Settings s;
    s.apikey = "0123456789abcdef0123456789abcdef";
    s.http.base_url = "http://127.0.0.1:1";
    s.http.max_retries = 2;
    std::uint64_t key = 13972565391ULL;
    BatchJob job(&key, 1, 1000);
    try {
      if (ep == Endpoint::Carrier) client.carrier(s, "13972565391", nullptr);
      if (ep == Endpoint::CarrierBatch) client.batch(s, job, nullptr);
      if (ep == Endpoint::Balance) client.balance(s, nullptr);
      ADD_FAILURE() << "connected to a closed port";
    } catch (const QxtError& e) {
      EXPECT_EQ(e.error().kind, ErrorKind::ConnectFailed);
      EXPECT_EQ(e.error().sqlstate, "08001");
      EXPECT_EQ(e.error().message, "could not connect to the vendor");
    }
    // Nothing could have been sent: every attempt was made.
    EXPECT_EQ(client.pool().connections_opened(), 3) << endpoint_path(ep);
  }
}

TEST(Transport, ConnectTimeoutIsRetriedAs08001) {
  qxt_test::BlackholeListener hole;
  Client client;
  Settings s;
  s.apikey = "0123456789abcdef0123456789abcdef";
  s.http.base_url = hole.url();
  s.http.connect_timeout_ms = 150;
  s.http.max_retries = 2;
  try {
    client.carrier(s, "13972565391", nullptr);
    ADD_FAILURE() << "connected to a listener that accepts nothing";
  } catch (const QxtError& e) {
    EXPECT_EQ(e.error().sqlstate, "08001");
    EXPECT_EQ(e.error().message,
              "could not connect to the vendor within qxt.connect_timeout_ms (150 ms)");
  }
  EXPECT_EQ(client.pool().connections_opened(), 3);
}

namespace {
std::atomic<bool> g_cancel{false};
bool cancel_flag() { return g_cancel.load(); }
}  // namespace

TEST(Transport, CancelAbandonsEveryTransferInFlight) {
  MiniServer srv([&](const MiniRequest&, int) { return MiniReply{MiniReply::Hang, ""}; });
  Client client;
  Settings s = settings_for(srv);
  s.http.timeout_ms = 60000;
  s.http.concurrency = 8;
  s.batch_size = 10;
  std::vector<std::uint64_t> keys;
  for (int i = 1; i <= 80; ++i) keys.push_back(13900000000ULL + i);
  BatchJob job(keys.data(), keys.size(), s.batch_size);
  g_cancel = false;
  std::thread canceller([] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    g_cancel = true;
  });
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(kind_of([&] { client.batch(s, job, cancel_flag); }), ErrorKind::Cancelled);
  auto waited = std::chrono::steady_clock::now() - t0;
  canceller.join();
  // The hang would last a minute; the cancel ends it (a generous bound:
  // the real figure is measured by the benchmark, not here).
  EXPECT_LT(waited, std::chrono::seconds(5));
  EXPECT_EQ(srv.max_in_flight(), 8);
  EXPECT_EQ(job.answered(), 0u);
  g_cancel = false;
}

TEST(Transport, BatchRunsAtTheConfiguredConcurrencyAndAnswersEveryNumber) {
  MiniServer srv([&](const MiniRequest& r, int) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return send(http_ok(batch_answer(r.body)));
  });
  Client client;
  Settings s = settings_for(srv);
  s.http.concurrency = 4;
  s.batch_size = 100;
  std::vector<std::uint64_t> keys;
  for (int i = 1; i <= 1000; ++i) keys.push_back(13900000000ULL + i);
  keys.push_back(keys[0]);  // a duplicate is not sent again
  BatchJob job(keys.data(), keys.size(), s.batch_size);
  client.batch(s, job, nullptr);
  EXPECT_EQ(srv.requests(), 10);
  EXPECT_EQ(srv.max_in_flight(), 4);
  EXPECT_LE(srv.connections(), 4);
  EXPECT_EQ(job.answered(), 1000u);
  for (auto k : keys) {
    const CompactResult* r = job.result_for(k);
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->code, 0);
    EXPECT_EQ(job.text(r->area), "广东-深圳");
  }
}

TEST(Transport, AccountLevelFailureStopsTheBatchAtOnce) {
  MiniServer srv([&](const MiniRequest&, int) {
    return send(http_ok(R"({"code":-5,"reason":"余额不足"})"));
  });
  Client client;
  Settings s = settings_for(srv);
  s.http.concurrency = 1;
  s.batch_size = 10;
  std::vector<std::uint64_t> keys;
  for (int i = 1; i <= 100; ++i) keys.push_back(13900000000ULL + i);
  BatchJob job(keys.data(), keys.size(), s.batch_size);
  EXPECT_EQ(kind_of([&] { client.batch(s, job, nullptr); }), ErrorKind::BalanceExhausted);
  EXPECT_EQ(srv.requests(), 1) << "no request may follow an exhausted balance";
}

TEST(Client, NoKeyMeansNothingSent) {
  MiniServer srv([&](const MiniRequest&, int) { return send(http_ok(kSingle)); });
  Client client;
  Settings s = settings_for(srv);
  s.apikey.clear();
  EXPECT_EQ(kind_of([&] { client.carrier(s, "13972565391", nullptr); }), ErrorKind::NoApiKey);
  EXPECT_EQ(srv.requests(), 0);
}

TEST(Client, AnAnswerForAnotherNumberIsRefused) {
  MiniServer srv([&](const MiniRequest&, int) { return send(http_ok(kSingle)); });
  Client client;
  EXPECT_EQ(kind_of([&] { client.carrier(settings_for(srv), "13972565397", nullptr); }),
            ErrorKind::BatchMismatch);
}

TEST(Transport, ReuseCanBeTurnedOff) {
  MiniServer srv([&](const MiniRequest&, int) { return send(http_ok(kSingle)); });
  Client client;
  Settings s = settings_for(srv);
  s.http.reuse_connections = false;
  for (int i = 0; i < 3; ++i) client.carrier(s, "13972565391", nullptr);
  EXPECT_EQ(srv.connections(), 3);
}

// A server that echoes the request (a proxy's or load balancer's error page,
// a misconfigured qxt.base_url, a vendor quoting the key it refuses) must not
// make the key appear in anything the client returns: error texts (which
// reach the caller of a granted function and the server log) or answers.
namespace {

// True when `text` holds any 8 consecutive characters of `key`.
bool shows_key(const std::string& text, const std::string& key) {
  for (std::size_t i = 0; i + 8 <= key.size(); ++i)
    if (text.find(key.substr(i, 8)) != std::string::npos) return true;
  return false;
}

std::string error_text(const std::function<void()>& f) {
  try {
    f();
  } catch (const QxtError& e) {
    return e.error().message + "\n" + e.error().detail + "\n" + e.error().hint;
  }
  ADD_FAILURE() << "no error";
  return "";
}

std::string json_quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

TEST(Client, AnEchoedKeyNeverComesBack) {
  // A key as the vendor issues them (letters and digits: every encoding
  // leaves it as it is), and one that form and JSON encoding change (echoed
  // in one of the forms it was sent in).
  for (const std::string& key : {std::string("0123456789abcdef0123456789abcdef"),
                                 std::string("k+y/with spaces&\"quotes\\=0123456789")}) {
    SCOPED_TRACE(key);
    const bool plain = key.find('"') == std::string::npos;
    // What the server sends back, given the request body.
    std::vector<std::function<std::string(const std::string&)>> echoes = {
        // the vendor quotes the refused request in its reason
        [](const std::string& b) {
          return http_ok(R"({"code":-1,"reason":)" + json_quoted("bad request: " + b) + "}");
        },
        // a text page quoting the request (an excerpt goes into DETAIL)
        [](const std::string& b) { return http_ok("request was: " + b, "text/plain"); },
        // the same, the key across the excerpt's limit (100 bytes)
        [](const std::string& b) {
          return http_ok(std::string(80, '.') + b, "text/html");
        },
        // an HTML page
        [](const std::string& b) { return http_ok("<html>" + b + "</html>", "text/html"); },
        // a JSON error body of the wrong shape
        [](const std::string& b) { return http_ok(R"({"error":)" + json_quoted(b) + "}"); },
    };
    for (std::size_t e = 0; e < echoes.size(); ++e) {
      // (echoes 0 and 4 encode the JSON batch body a second time)
      if (!plain && (e == 0 || e == 4)) continue;
      SCOPED_TRACE("echo " + std::to_string(e));
      MiniServer srv([&](const MiniRequest& r, int) { return send(echoes[e](r.body)); });
      Client client;
      Settings s = settings_for(srv);
      s.apikey = key;
      std::string t = error_text([&] { client.carrier(s, "13972565391", nullptr); });
      EXPECT_FALSE(shows_key(t, key)) << t;
      t = error_text([&] { client.balance(s, nullptr); });
      EXPECT_FALSE(shows_key(t, key)) << t;
      std::uint64_t k = 13972565391ULL;
      BatchJob job(&k, 1, s.batch_size);
      t = error_text([&] { client.batch(s, job, nullptr); });
      EXPECT_FALSE(shows_key(t, key)) << t;
    }
    // An answer whose fields echo the key: the answer never shows it.
    MiniServer srv([&](const MiniRequest&, int) {
      return send(http_ok(R"({"code":0,"reason":"Succ","result":{"res":"0","Mobile":"13972565391","Area":)" +
                          json_quoted(key) + R"(,"Init_isp":"移动","Now_isp":"移动"}})"));
    });
    Client client;
    Settings s = settings_for(srv);
    s.apikey = key;
    CarrierRecord r = client.carrier(s, "13972565391", nullptr);
    EXPECT_FALSE(shows_key(r.area, key)) << r.area;
  }
}

// The same echo, in a form the client did not send the key in: upper case
// (the vendor's own documents print keys in both cases, and a vendor that
// treats them case-insensitively may quote its normalised form), or JSON
// with \u escapes (valid JSON for the same text).  The key must not come
// back in an error text nor in an answer's fields.
namespace {

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string u_escaped(const std::string& s) {
  std::string out = "\"";
  char buf[8];
  for (unsigned char c : s) {
    std::snprintf(buf, sizeof buf, "\\u%04x", c);
    out += buf;
  }
  return out + "\"";
}

bool shows_key_anycase(const std::string& text, const std::string& key) {
  return shows_key(upper(text), upper(key));
}

}  // namespace

TEST(Client, AnEchoedKeyInAnotherFormNeverComesBack) {
  const std::string key = "0123456789abcdef0123456789abcdef";
  const std::vector<std::string> forms = {json_quoted(upper(key)), u_escaped(key),
                                          u_escaped(upper(key))};
  for (std::size_t f = 0; f < forms.size(); ++f) {
    SCOPED_TRACE("form " + std::to_string(f));
    const std::string& quoted = forms[f];
    // In the vendor's reason for a refusal: error texts.
    {
      MiniServer srv([&](const MiniRequest&, int) {
        return send(http_ok(R"({"code":-1,"reason":)" + quoted + "}"));
      });
      Client client;
      Settings s = settings_for(srv);
      s.apikey = key;
      std::string t = error_text([&] { client.carrier(s, "13972565391", nullptr); });
      EXPECT_FALSE(shows_key_anycase(t, key)) << t;
      t = error_text([&] { client.balance(s, nullptr); });
      EXPECT_FALSE(shows_key_anycase(t, key)) << t;
      std::uint64_t k = 13972565391ULL;
      BatchJob job(&k, 1, s.batch_size);
      t = error_text([&] { client.batch(s, job, nullptr); });
      EXPECT_FALSE(shows_key_anycase(t, key)) << t;
    }
    // In a text page (an excerpt goes into DETAIL).
    {
      MiniServer srv([&](const MiniRequest&, int) {
        return send(http_ok("refused key " + upper(key), "text/plain"));
      });
      Client client;
      Settings s = settings_for(srv);
      s.apikey = key;
      std::string t = error_text([&] { client.carrier(s, "13972565391", nullptr); });
      EXPECT_FALSE(shows_key_anycase(t, key)) << t;
    }
    // In the fields of an answer: single and batch.
    {
      MiniServer srv([&](const MiniRequest& r, int) {
        if (r.head.find("carrier_batch") != std::string::npos)
          return send(http_ok(R"([{"code":0,"reason":"Succ","result":{"res":"0","Mobile":"13972565391","Area":)" +
                              quoted + R"(,"Init_Isp":"移动","Now_Isp":"移动"}}])"));
        return send(http_ok(R"({"code":0,"reason":"Succ","result":{"res":"0","Mobile":"13972565391","Area":)" +
                            quoted + R"(,"Init_isp":"移动","Now_isp":"移动"}})"));
      });
      Client client;
      Settings s = settings_for(srv);
      s.apikey = key;
      CarrierRecord r = client.carrier(s, "13972565391", nullptr);
      EXPECT_FALSE(shows_key_anycase(r.area, key)) << r.area;
      std::uint64_t k = 13972565391ULL;
      BatchJob job(&k, 1, s.batch_size);
      client.batch(s, job, nullptr);
      const CompactResult* c = job.result_for(k);
      ASSERT_NE(c, nullptr);
      std::string area(job.text(c->area));
      EXPECT_FALSE(shows_key_anycase(area, key)) << area;
    }
  }
}
