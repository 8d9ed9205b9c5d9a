// "Never pay twice, never lose what was paid", over real sockets: what is
// sent again (only what cannot have reached the vendor, and explicit
// refusals that charge nothing), what never is (by us or by libcurl), and
// that every charged element of every batch answer is kept.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client.hpp"
#include "errors.hpp"
#include "http.hpp"
#include "mini_server.hpp"
#include "normalize.hpp"

using namespace qxt;
using qxt_test::asked;
using qxt_test::http_ok;
using qxt_test::http_status;
using qxt_test::http_truncated;
using qxt_test::MiniReply;
using qxt_test::MiniRequest;
using qxt_test::MiniServer;

namespace {

const char* kSingle =
    R"({"code":0,"reason":"Succ","result":{"res":"1","Mobile":"13972565391","Area":"湖北-宜昌","Init_isp":"移动","Now_isp":"电信"}})";
const char* kBalance = R"({"code":0,"reason":"Succ","result":{"feeType":"预付费","balance":"12048"}})";

MiniReply send(std::string bytes) { return {MiniReply::Send, std::move(bytes)}; }
MiniReply close_unanswered() { return {MiniReply::Close, ""}; }
MiniReply hang() { return {MiniReply::Hang, ""}; }

Settings settings_for(const MiniServer& s) {
  Settings st;
  st.apikey = "0123456789abcdef0123456789abcdef";
  st.http.base_url = s.url();
  st.http.max_retries = 2;
  st.http.timeout_ms = 5000;
  return st;
}

std::string element(const std::string& num, int code) {
  if (code != 0)
    return R"({"code":)" + std::to_string(code) + R"(,"reason":"x","result":{"Mobile":")" + num +
           R"("}})";
  return R"({"code":0,"reason":"Succ","result":{"res":"0","Mobile":")" + num +
         R"(","Area":"广东-深圳","Init_Isp":"移动","Now_Isp":"移动"}})";
}

// A batch answer: code 0 for the first `ok` numbers asked, `rest_code` for
// the others.
std::string batch_answer(const std::string& body, std::size_t ok = SIZE_MAX, int rest_code = 0) {
  std::string out = "[";
  std::vector<std::string> nums = asked(body);
  for (std::size_t i = 0; i < nums.size(); ++i) {
    if (i) out += ',';
    out += element(nums[i], i < ok ? 0 : rest_code);
  }
  return out + "]";
}

std::vector<std::uint64_t> numbers(int n) {
  std::vector<std::uint64_t> keys;
  for (int i = 1; i <= n; ++i) keys.push_back(13900000000ULL + i);
  return keys;
}

// Runs `f`, returns the error it throws (or fails the test).
Error error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const QxtError& e) {
    return e.error();
  }
  ADD_FAILURE() << "no error";
  return Error();
}

std::size_t recorded(const BatchJob& job, const std::vector<std::uint64_t>& keys, int code) {
  std::size_t n = 0;
  for (auto k : keys)
    if (job.result_for(k)->code == code) ++n;
  return n;
}

// Every call of a paid endpoint, and one of /balance, in a uniform shape.
enum class Call { Carrier, Batch, Balance };
const char* name(Call c) {
  return c == Call::Carrier ? "carrier" : c == Call::Batch ? "batch" : "balance";
}
std::string good_answer(Call c, const MiniRequest& r) {
  return http_ok(c == Call::Carrier ? kSingle : c == Call::Batch ? batch_answer(r.body) : kBalance);
}
void call(Client& client, const Settings& s, Call c) {
  if (c == Call::Carrier) {
    client.carrier(s, "13972565391", nullptr);
  } else if (c == Call::Batch) {
    std::vector<std::uint64_t> keys = numbers(3);
    BatchJob job(keys.data(), keys.size(), 1000);
    client.batch(s, job, nullptr);
    EXPECT_EQ(job.answered(), 3u);
  } else {
    client.balance(s, nullptr);
  }
}

}  // namespace

// The server reads the request on a kept-alive connection and closes it
// without answering.  libcurl on its own would send the request again on a
// new connection ("Connection died, retrying a fresh connect"): a second
// payment.  The server must see it exactly once, and the paid call fails
// with 08006 saying the vendor may have charged it.
TEST(NeverPayTwice, LibcurlDoesNotResendOnAFreshConnectionWhenAReusedOneDies) {
  for (Call c : {Call::Carrier, Call::Batch}) {
    SCOPED_TRACE(name(c));
    MiniServer srv([&](const MiniRequest& r, int i) {
      return i == 0 ? send(good_answer(c, r)) : close_unanswered();
    });
    Client client;
    Settings s = settings_for(srv);
    call(client, s, c);  // opens the connection that is then reused
    Error e = error_of([&] { call(client, s, c); });
    EXPECT_EQ(e.sqlstate, "08006") << e.message;
    EXPECT_NE(e.detail.find("may have received and charged it; it was not sent again"),
              std::string::npos)
        << e.detail;
    EXPECT_NE(e.hint.find("SELECT * FROM qxt_balance()"), std::string::npos) << e.hint;
    EXPECT_EQ(srv.requests(), 2) << "the request that died was sent again";
    EXPECT_EQ(srv.connections(), 1) << "a fresh connection was opened to re-send it";
  }
}

// With other connections idle in the cache, libcurl re-sends on one of
// those instead of opening a new one: refused just the same.
TEST(NeverPayTwice, LibcurlDoesNotResendOnAnotherIdleConnection) {
  std::atomic<int> carrier_requests{0};
  MiniServer srv([&](const MiniRequest& r, int) {
    if (r.head.rfind("POST /carrier_batch", 0) == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
      return send(http_ok(batch_answer(r.body)));
    }
    ++carrier_requests;
    return close_unanswered();
  });
  Client client;
  Settings s = settings_for(srv);
  s.http.concurrency = 4;
  s.batch_size = 10;
  std::vector<std::uint64_t> keys = numbers(40);
  BatchJob job(keys.data(), keys.size(), s.batch_size);
  client.batch(s, job, nullptr);
  ASSERT_EQ(srv.connections(), 4) << "four idle connections to choose from";
  Error e = error_of([&] { client.carrier(s, "13972565391", nullptr); });
  EXPECT_EQ(e.sqlstate, "08006");
  EXPECT_EQ(carrier_requests.load(), 1) << "re-sent on another kept-alive connection";
  EXPECT_EQ(srv.connections(), 4);
}

// The same death on a fresh connection: not retried by us either.  A
// truncated answer likewise.  /balance is free and is retried.
TEST(NeverPayTwice, AnAnswerLostAfterSendingIsNotRetriedOnPaidEndpoints) {
  for (Call c : {Call::Carrier, Call::Batch, Call::Balance}) {
    for (bool truncated : {false, true}) {
      SCOPED_TRACE(std::string(name(c)) + (truncated ? " truncated" : " closed"));
      MiniServer srv([&](const MiniRequest& r, int i) {
        if (i > 0) return send(good_answer(c, r));
        if (truncated) return MiniReply{MiniReply::SendClose, http_truncated(good_answer(c, r), 20)};
        return close_unanswered();
      });
      Client client;
      Settings s = settings_for(srv);
      if (c == Call::Balance) {
        call(client, s, c);
        EXPECT_EQ(srv.requests(), 2) << "/balance costs nothing: retried";
      } else {
        Error e = error_of([&] { call(client, s, c); });
        EXPECT_EQ(e.kind, ErrorKind::ConnectionLost);
        EXPECT_EQ(e.sqlstate, "08006");
        EXPECT_EQ(srv.requests(), 1);
      }
    }
  }
}

// A timeout on a reused keep-alive connection (the default) is a timeout
// after sending: QX101, sent once, never 08001.
TEST(NeverPayTwice, ATimeoutOnAReusedConnectionIsQX101AndSentOnce) {
  for (Call c : {Call::Carrier, Call::Batch, Call::Balance}) {
    SCOPED_TRACE(name(c));
    MiniServer srv([&](const MiniRequest& r, int i) {
      return i == 0 ? send(good_answer(c, r)) : hang();
    });
    Client client;
    Settings s = settings_for(srv);
    s.http.timeout_ms = 300;
    call(client, s, c);
    Error e = error_of([&] { call(client, s, c); });
    EXPECT_EQ(e.kind, ErrorKind::Timeout);
    EXPECT_EQ(e.sqlstate, "QX101");
    EXPECT_EQ(e.message, "the vendor did not answer within qxt.timeout_ms (300 ms)");
    EXPECT_EQ(e.hint.find("connect_timeout"), std::string::npos) << e.hint;
    EXPECT_EQ(srv.requests(), 2) << "a request that timed out was sent again";
    EXPECT_EQ(srv.connections(), 1);
  }
}

// HTTP 503 and 429 are refusals that charge nothing: retried everywhere.
// Other 5xx may come after the vendor charged: final on paid endpoints,
// retried on /balance.
TEST(NeverPayTwice, StatusRetriesFollowWhatTheStatusMayHaveCost) {
  for (Call c : {Call::Carrier, Call::Batch, Call::Balance}) {
    for (int status : {503, 429, 500, 502, 504}) {
      SCOPED_TRACE(std::string(name(c)) + " " + std::to_string(status));
      MiniServer srv([&](const MiniRequest& r, int i) {
        return i == 0 ? send(http_status(status)) : send(good_answer(c, r));
      });
      Client client;
      Settings s = settings_for(srv);
      const bool retried = status == 503 || status == 429 || c == Call::Balance;
      if (retried) {
        call(client, s, c);
        EXPECT_EQ(srv.requests(), 2);
      } else {
        Error e = error_of([&] { call(client, s, c); });
        EXPECT_EQ(e.sqlstate, "QX102");
        EXPECT_EQ(srv.requests(), 1);
      }
    }
  }
}

TEST(NeverPayTwice, Retry503HonoursRetryAfter) {
  MiniServer srv([&](const MiniRequest&, int i) {
    if (i == 0)
      return send("HTTP/1.1 503 X\r\nRetry-After: 1\r\nContent-Length: 3\r\n\r\nerr");
    return send(http_ok(kSingle));
  });
  Client client;
  auto t0 = std::chrono::steady_clock::now();
  client.carrier(settings_for(srv), "13972565391", nullptr);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(1000));
  EXPECT_EQ(srv.requests(), 2);
}

// Vendor -8 on a whole batch request is a refusal: the request is sent
// again, and the numbers are answered.
TEST(NeverPayTwice, BatchMinus8IsRetried) {
  MiniServer srv([&](const MiniRequest& r, int i) {
    if (i == 0) return send(http_ok(R"({"code":-8,"reason":"系统错误"})"));
    return send(http_ok(batch_answer(r.body)));
  });
  Client client;
  Settings s = settings_for(srv);
  s.batch_size = 10;
  std::vector<std::uint64_t> keys = numbers(10);
  BatchJob job(keys.data(), keys.size(), s.batch_size);
  client.batch(s, job, nullptr);
  EXPECT_EQ(srv.requests(), 2);
  EXPECT_EQ(job.answered(), 10u);
}

// The batch's own retry budget: a -8 that never clears is sent
// 1 + qxt.max_retries times, then raised as QX008; with max_retries 0 it is
// sent once.  Each retried request asks the same numbers again (nothing was
// charged).  Replacing the retry branch of Client::batch by a stop fails
// both this test and BatchMinus8IsRetried.
TEST(NeverPayTwice, BatchMinus8IsSentOnePlusMaxRetriesTimes) {
  for (int retries : {0, 1, 2, 3}) {
    SCOPED_TRACE("max_retries " + std::to_string(retries));
    std::mutex mu;
    std::vector<std::vector<std::string>> bodies;
    MiniServer srv([&](const MiniRequest& r, int) {
      std::lock_guard<std::mutex> g(mu);
      bodies.push_back(asked(r.body));
      return send(http_ok(R"({"code":-8,"reason":"系统错误"})"));
    });
    Client client;
    Settings s = settings_for(srv);
    s.http.max_retries = retries;
    std::vector<std::uint64_t> keys = numbers(5);
    BatchJob job(keys.data(), keys.size(), 1000);
    Error e = error_of([&] { client.batch(s, job, nullptr); });
    EXPECT_EQ(e.sqlstate, "QX008") << e.message;
    EXPECT_EQ(srv.requests(), 1 + retries);
    EXPECT_EQ(job.answered(), 0u);
    for (const auto& b : bodies) EXPECT_EQ(b, bodies.front());
  }
}

// A -8 on one chunk of several, at concurrency 2: only that chunk is sent
// again, once; every number is answered and asked exactly once in an
// answered request.
TEST(NeverPayTwice, BatchMinus8RetriesOnlyTheRefusedChunk) {
  std::mutex mu;
  std::vector<std::string> answered_numbers;
  MiniServer srv([&](const MiniRequest& r, int i) {
    if (i == 0) return send(http_ok(R"({"code":-8,"reason":"系统错误"})"));
    std::lock_guard<std::mutex> g(mu);
    for (auto& n : asked(r.body)) answered_numbers.push_back(n);
    return send(http_ok(batch_answer(r.body)));
  });
  Client client;
  Settings s = settings_for(srv);
  s.http.concurrency = 2;
  s.batch_size = 10;
  std::vector<std::uint64_t> keys = numbers(40);  // 4 chunks
  BatchJob job(keys.data(), keys.size(), s.batch_size);
  client.batch(s, job, nullptr);
  EXPECT_EQ(srv.requests(), 5) << "4 chunks and one retry";
  EXPECT_EQ(job.answered(), 40u);
  std::sort(answered_numbers.begin(), answered_numbers.end());
  EXPECT_EQ(std::adjacent_find(answered_numbers.begin(), answered_numbers.end()),
            answered_numbers.end())
      << "a number was asked in two answered requests";
  EXPECT_EQ(answered_numbers.size(), 40u);
}

// An account-level refusal as the whole answer (-1, -5, -6), at concurrency
// 4 with more chunks (10) than slots: the first answer refuses, the other
// three requests in flight finish and are kept, and no request is started
// after the refusal: 4 requests in all, not 10.
TEST(NeverPayTwice, AnAccountRefusalStopsABatchAtConcurrency4) {
  struct Case { int code; const char* sqlstate; };
  for (Case c : {Case{-5, "QX005"}, Case{-6, "QX006"}, Case{-1, "28000"}}) {
    SCOPED_TRACE(c.code);
    MiniServer srv([&](const MiniRequest& r, int i) {
      if (i == 0) {
        // Answered once all four slots are in use.
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        return send(http_ok(R"({"code":)" + std::to_string(c.code) + R"(,"reason":"x"})"));
      }
      // The other three in flight answer after the refusal arrived.
      std::this_thread::sleep_for(std::chrono::milliseconds(400));
      return send(http_ok(batch_answer(r.body)));
    });
    Client client;
    Settings s = settings_for(srv);
    s.http.concurrency = 4;
    s.batch_size = 10;
    std::vector<std::uint64_t> keys = numbers(100);  // 10 chunks, 4 slots
    BatchJob job(keys.data(), keys.size(), s.batch_size);
    Error e = error_of([&] { client.batch(s, job, nullptr); });
    EXPECT_EQ(e.sqlstate, c.sqlstate) << e.message;
    EXPECT_EQ(srv.max_in_flight(), 4);
    EXPECT_EQ(srv.requests(), 4) << "a request was started after the account refusal";
    EXPECT_EQ(job.answered(), 30u) << "the three answers in flight are kept";
  }
}

// The balance runs out part-way through an answer: code 0 (charged) for the
// first k elements, -5 for the rest.  With 4 requests in flight and more
// chunks than slots: the k answers are kept, the answers in flight when the
// -5 came are kept, no request starts after it, and QX005 is thrown.
TEST(NeverPayTwice, PartialMinus5KeepsTheChargedAnswersAndStopsTheJob) {
  const std::size_t k = 3;
  std::mutex mu;
  std::vector<std::string> first_asked;  // the numbers of the request answered with -5
  MiniServer srv([&](const MiniRequest& r, int i) {
    if (i == 0) {
      std::lock_guard<std::mutex> g(mu);
      first_asked = asked(r.body);
      return send(http_ok(batch_answer(r.body, k, -5)));
    }
    // The other three in flight answer later, after the -5 arrived.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    return send(http_ok(batch_answer(r.body)));
  });
  Client client;
  Settings s = settings_for(srv);
  s.http.concurrency = 4;
  s.batch_size = 10;
  std::vector<std::uint64_t> keys = numbers(100);  // 10 chunks, 4 slots
  BatchJob job(keys.data(), keys.size(), s.batch_size);
  Error e = error_of([&] { client.batch(s, job, nullptr); });
  EXPECT_EQ(e.kind, ErrorKind::BalanceExhausted);
  EXPECT_EQ(e.sqlstate, "QX005");
  EXPECT_EQ(srv.requests(), 4) << "a request was started after the -5 answer arrived";
  EXPECT_EQ(job.answered(), k + 30) << "k charged elements, and three whole answers in flight";
  EXPECT_EQ(job.refused(), 10 - k);
  EXPECT_EQ(recorded(job, keys, 0), k + 30);
  EXPECT_EQ(recorded(job, keys, -5), 10 - k);
  ASSERT_EQ(first_asked.size(), 10u);
  for (std::size_t i = 0; i < first_asked.size(); ++i) {
    const CompactResult* r = job.result_for(std::stoull(first_asked[i]));
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->code, i < k ? 0 : -5) << first_asked[i];
    EXPECT_EQ(r->is_answer(), i < k);
  }
}

// An account-level refusal wins over another failure of the same job: it is
// what the user must act on.
TEST(NeverPayTwice, AnAccountLevelRefusalIsTheErrorRaised) {
  MiniServer srv([&](const MiniRequest& r, int i) {
    if (i == 0) return send(http_ok("this is not json"));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    return send(http_ok(batch_answer(r.body, 0, -6)));
  });
  Client client;
  Settings s = settings_for(srv);
  s.http.concurrency = 2;
  s.batch_size = 5;
  std::vector<std::uint64_t> keys = numbers(10);
  BatchJob job(keys.data(), keys.size(), s.batch_size);
  Error e = error_of([&] { client.batch(s, job, nullptr); });
  EXPECT_EQ(e.sqlstate, "QX006") << e.message;
  EXPECT_EQ(srv.requests(), 2);
}

// A malformed answer to one request must not abandon the others in flight:
// their answers are charged, and kept.
TEST(NeverPayTwice, AMalformedAnswerDoesNotAbandonTheRequestsInFlight) {
  MiniServer srv([&](const MiniRequest& r, int i) {
    if (i == 0) return send(http_ok("this is not json"));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    return send(http_ok(batch_answer(r.body)));
  });
  Client client;
  Settings s = settings_for(srv);
  s.http.concurrency = 2;
  s.batch_size = 5;
  std::vector<std::uint64_t> keys = numbers(20);
  BatchJob job(keys.data(), keys.size(), s.batch_size);
  Error e = error_of([&] { client.batch(s, job, nullptr); });
  EXPECT_EQ(e.sqlstate, "QX103") << e.message;
  EXPECT_EQ(srv.requests(), 2);
  EXPECT_EQ(job.answered(), 5u) << "the answer in flight was dropped";
}

// A short answer whose elements echo their Mobile: every element that names
// a number asked is kept, the rest is not guessed, and QX105 is raised.
TEST(NeverPayTwice, AShortAnswerKeepsWhatItsMobilesAttribute) {
  MiniServer srv([&](const MiniRequest& r, int) {
    std::vector<std::string> nums = asked(r.body);
    // Drops the first number, answers the others (reversed).
    std::string out = "[";
    for (std::size_t i = nums.size(); i-- > 1;) {
      if (out.size() > 1) out += ',';
      out += element(nums[i], 0);
    }
    return send(http_ok(out + "]"));
  });
  Client client;
  Settings s = settings_for(srv);
  std::vector<std::uint64_t> keys = numbers(5);
  BatchJob job(keys.data(), keys.size(), s.batch_size);
  Error e = error_of([&] { client.batch(s, job, nullptr); });
  EXPECT_EQ(e.sqlstate, "QX105");
  EXPECT_EQ(srv.requests(), 1) << "a mismatched answer is not sent again";
  EXPECT_EQ(job.result_for(keys[0])->code, CompactResult::kNotAsked);
  for (std::size_t i = 1; i < keys.size(); ++i) EXPECT_EQ(job.result_for(keys[i])->code, 0) << i;
  EXPECT_EQ(job.answered(), 4u);
}

// An answer whose elements are well-formed JSON but one of them is not the
// documented shape (here a -4 failure whose result carries a res of "-1",
// which the documents say nothing against; or an element that is not an
// object at all): the other elements were charged, and are kept; the
// answer is still reported (QX103) and not sent again.
TEST(NeverPayTwice, AnOddElementDoesNotSpoilTheChargedOnes) {
  for (const std::string& odd :
       {std::string(R"({"code":-4,"reason":"x","result":{"res":"-1","Mobile":"NUM"}})"),
        std::string(R"({"code":0,"reason":"Succ","result":{"res":"?","Mobile":"NUM"}})"),
        std::string("null"), std::string(R"("NUM")")}) {
    SCOPED_TRACE(odd);
    MiniServer srv([&](const MiniRequest& r, int) {
      std::vector<std::string> nums = asked(r.body);
      std::string el = odd;
      auto at = el.find("NUM");
      if (at != std::string::npos) el.replace(at, 3, nums[1]);
      return send(http_ok("[" + element(nums[0], 0) + "," + el + "," + element(nums[2], 0) + "]"));
    });
    Client client;
    Settings s = settings_for(srv);
    std::vector<std::uint64_t> keys = numbers(3);
    BatchJob job(keys.data(), keys.size(), s.batch_size);
    Error e = error_of([&] { client.batch(s, job, nullptr); });
    EXPECT_EQ(e.sqlstate, "QX103") << e.message;
    EXPECT_NE(e.detail.find("2 of its 3 elements were kept"), std::string::npos) << e.detail;
    EXPECT_EQ(srv.requests(), 1);
    EXPECT_EQ(job.answered(), 2u) << "the charged elements beside the odd one were dropped";
    EXPECT_EQ(job.result_for(keys[0])->code, 0);
    EXPECT_EQ(job.result_for(keys[1])->code, CompactResult::kNotAsked);
    EXPECT_EQ(job.result_for(keys[2])->code, 0);
  }
}
