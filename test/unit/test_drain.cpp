// The drain mode of a cancel (CancelPolicy::drain_ms > 0), over real
// sockets: what was sent before the cancel is waited for and recorded,
// nothing starts after it (no request, no retry), what was not sent yet is
// dropped at once, and the deadline (or a terminate's shorter one)
// abandons what is still unanswered.  A second cancel never extends it.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "client.hpp"
#include "errors.hpp"
#include "http.hpp"
#include "mini_server.hpp"

using namespace qxt;
using qxt_test::http_ok;
using qxt_test::MiniReply;
using qxt_test::MiniRequest;
using qxt_test::MiniServer;

namespace {

using Clock = std::chrono::steady_clock;

std::atomic<bool> g_cancel{false};
std::atomic<bool> g_urgent{false};
bool cancel_flag() { return g_cancel.load(); }
bool urgent_flag() { return g_urgent.load(); }

// The flags are process-wide: every test starts and ends with them down.
struct Flags {
  Flags() { g_cancel = false; g_urgent = false; }
  ~Flags() { g_cancel = false; g_urgent = false; }
};

std::string batch_answer(const std::string& body) {
  std::string out = "[";
  for (const std::string& n : qxt_test::asked(body)) {
    if (out.size() > 1) out += ',';
    out += R"({"code":0,"reason":"Succ","result":{"res":"0","Mobile":")" + n +
           R"(","Area":"广东-深圳","Init_Isp":"移动","Now_Isp":"移动"}})";
  }
  return out + "]";
}

MiniReply answer_after(const MiniRequest& r, int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return {MiniReply::Send, http_ok(batch_answer(r.body))};
}

Settings settings_for(const std::string& url, int concurrency, std::size_t batch_size) {
  Settings s;
  s.apikey = "0123456789abcdef0123456789abcdef";
  s.http.base_url = url;
  s.http.timeout_ms = 60000;
  s.http.max_retries = 2;
  s.http.concurrency = concurrency;
  s.batch_size = batch_size;
  return s;
}

std::vector<std::uint64_t> numbers(int n) {
  std::vector<std::uint64_t> keys;
  for (int i = 1; i <= n; ++i) keys.push_back(13900000000ULL + i);
  return keys;
}

CancelPolicy drain_policy(long drain_ms) {
  CancelPolicy p;
  p.cancel = cancel_flag;
  p.drain_ms = drain_ms;
  return p;
}

// Runs the batch; expects it to end cancelled; returns how long it took
// from `since`.
long cancelled_batch(Client& client, const Settings& s, BatchJob& job, const CancelPolicy& p,
                     BatchCancelReport& rep, Clock::time_point* cancelled_at = nullptr) {
  ErrorKind kind = ErrorKind::Internal;
  bool threw = false;
  try {
    client.batch(s, job, p, &rep);
  } catch (const QxtError& e) {
    threw = true;
    kind = e.error().kind;
  }
  EXPECT_TRUE(threw) << "the batch ended without the cancel";
  EXPECT_EQ(kind, ErrorKind::Cancelled);
  auto end = Clock::now();
  return cancelled_at ? static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                              end - *cancelled_at).count())
                      : 0;
}

// Raises the cancel flag once `srv` has seen `requests` requests, `after_ms`
// later; notes when.
std::thread cancel_when(const MiniServer& srv, int requests, int after_ms,
                        Clock::time_point* at) {
  return std::thread([&srv, requests, after_ms, at] {
    while (srv.requests() < requests) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    std::this_thread::sleep_for(std::chrono::milliseconds(after_ms));
    *at = Clock::now();
    g_cancel = true;
  });
}

}  // namespace

// Three requests in flight, six more to come.  The cancel comes while the
// three are being answered: they finish and every element is recorded;
// none of the six is started.
TEST(Drain, RequestsInFlightAtTheCancelFinishAndAreRecorded) {
  Flags flags;
  MiniServer srv([&](const MiniRequest& r, int) { return answer_after(r, 400); });
  Client client;
  Settings s = settings_for(srv.url(), 3, 10);
  std::vector<std::uint64_t> keys = numbers(90);
  BatchJob job(keys.data(), keys.size(), s.batch_size);
  Clock::time_point at;
  std::thread t = cancel_when(srv, 3, 100, &at);
  BatchCancelReport rep;
  long after = cancelled_batch(client, s, job, drain_policy(5000), rep, &at);
  t.join();
  EXPECT_EQ(srv.requests(), 3) << "a request was started after the cancel";
  EXPECT_EQ(job.answered(), 30u) << "the answers in flight at the cancel were not all kept";
  for (int i = 0; i < 30; ++i) EXPECT_EQ(job.result_for(keys[i])->code, 0) << i;
  for (int i = 30; i < 90; ++i)
    EXPECT_EQ(job.result_for(keys[i])->code, CompactResult::kNotAsked) << i;
  EXPECT_TRUE(rep.cancelled);
  EXPECT_EQ(rep.in_flight, 3u);
  EXPECT_EQ(rep.answered, 3u);
  EXPECT_EQ(rep.unanswered, 0u);
  EXPECT_EQ(rep.refused, 0u);
  EXPECT_EQ(rep.dropped, 0u);
  EXPECT_FALSE(rep.urgent);
  // It waited for the answers (about 300 ms after the cancel), not for the
  // 5 s deadline.
  EXPECT_GE(after, 150);
  EXPECT_LT(after, 4000);
}

// Without a drain (the default, for the plain SQL functions) the same
// cancel abandons the three at once: nothing recorded, all unanswered.
TEST(Drain, WithoutADrainTheCancelAbandonsAtOnce) {
  Flags flags;
  MiniServer srv([&](const MiniRequest& r, int) { return answer_after(r, 1500); });
  Client client;
  Settings s = settings_for(srv.url(), 3, 10);
  std::vector<std::uint64_t> keys = numbers(90);
  BatchJob job(keys.data(), keys.size(), s.batch_size);
  Clock::time_point at;
  std::thread t = cancel_when(srv, 3, 100, &at);
  BatchCancelReport rep;
  CancelPolicy p;
  p.cancel = cancel_flag;
  long after = cancelled_batch(client, s, job, p, rep, &at);
  t.join();
  EXPECT_LT(after, 1000);
  EXPECT_EQ(job.answered(), 0u);
  EXPECT_EQ(rep.in_flight, 3u);
  EXPECT_EQ(rep.unanswered, 3u);
  EXPECT_EQ(srv.requests(), 3);
}

// Two requests: the first is refused with 503 (retried after its
// Retry-After of 1 s), the second is slow.  The cancel comes while the retry
// waits: the retry is never sent, and the slow answer is kept.
TEST(Drain, NoRetryIsSentAfterTheCancel) {
  Flags flags;
  MiniServer srv([&](const MiniRequest& r, int i) {
    if (i == 0)
      return MiniReply{MiniReply::Send,
                       "HTTP/1.1 503 X\r\nRetry-After: 1\r\nContent-Length: 3\r\n\r\nerr"};
    return answer_after(r, 600);
  });
  Client client;
  Settings s = settings_for(srv.url(), 2, 10);
  std::vector<std::uint64_t> keys = numbers(20);
  BatchJob job(keys.data(), keys.size(), s.batch_size);
  Clock::time_point at;
  std::thread t = cancel_when(srv, 2, 150, &at);
  BatchCancelReport rep;
  cancelled_batch(client, s, job, drain_policy(5000), rep, &at);
  t.join();
  // Wait past the Retry-After: a retry left pending would have gone out.
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  EXPECT_EQ(srv.requests(), 2) << "the refused request was sent again after the cancel";
  EXPECT_EQ(job.answered(), 10u);
  EXPECT_EQ(rep.in_flight, 1u);
  EXPECT_EQ(rep.answered, 1u);
}

// One request hangs, the other answers after 300 ms.  The drain keeps the
// answer and abandons the hung request at its deadline (800 ms here).
TEST(Drain, TheDeadlineAbandonsWhatIsStillUnanswered) {
  Flags flags;
  MiniServer srv([&](const MiniRequest& r, int i) {
    if (i == 0) return MiniReply{MiniReply::Hang, ""};
    return answer_after(r, 300);
  });
  Client client;
  Settings s = settings_for(srv.url(), 2, 10);
  std::vector<std::uint64_t> keys = numbers(40);
  BatchJob job(keys.data(), keys.size(), s.batch_size);
  Clock::time_point at;
  std::thread t = cancel_when(srv, 2, 50, &at);
  BatchCancelReport rep;
  long after = cancelled_batch(client, s, job, drain_policy(800), rep, &at);
  t.join();
  EXPECT_GE(after, 750);
  EXPECT_LT(after, 3000) << "the drain outlived its deadline";
  EXPECT_EQ(srv.requests(), 2);
  EXPECT_EQ(job.answered(), 10u);
  EXPECT_EQ(rep.in_flight, 2u);
  EXPECT_EQ(rep.answered, 1u);
  EXPECT_EQ(rep.unanswered, 1u);
  EXPECT_GE(rep.drain_ms, 750);
}

// Requests still connecting when the cancel comes were never sent: dropped
// at once, not waited for (the connect would take 5 s here).
TEST(Drain, RequestsNotYetSentAreDroppedAtOnce) {
  Flags flags;
  qxt_test::BlackholeListener hole;
  Client client;
  Settings s = settings_for(hole.url(), 3, 10);
  s.http.connect_timeout_ms = 5000;
  std::vector<std::uint64_t> keys = numbers(60);
  BatchJob job(keys.data(), keys.size(), s.batch_size);
  Clock::time_point at = Clock::now();
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    at = Clock::now();
    g_cancel = true;
  });
  BatchCancelReport rep;
  long after = cancelled_batch(client, s, job, drain_policy(5000), rep, &at);
  t.join();
  EXPECT_LT(after, 1000);
  EXPECT_EQ(rep.in_flight, 0u);
  EXPECT_EQ(rep.dropped, 3u);
  EXPECT_EQ(rep.unanswered, 0u);
}

// A terminate during the drain (the urgent check) cuts it to urgent_ms from
// then: here 300 ms after a cancel whose own drain would last 5 s.
TEST(Drain, ATerminateCutsTheDrainShort) {
  Flags flags;
  MiniServer srv([&](const MiniRequest&, int) { return MiniReply{MiniReply::Hang, ""}; });
  Client client;
  Settings s = settings_for(srv.url(), 2, 10);
  std::vector<std::uint64_t> keys = numbers(40);
  BatchJob job(keys.data(), keys.size(), s.batch_size);
  Clock::time_point at;
  std::thread t = cancel_when(srv, 2, 50, &at);
  std::thread terminator([&] {
    while (!g_cancel) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    g_urgent = true;
  });
  CancelPolicy p = drain_policy(5000);
  p.urgent = urgent_flag;
  p.urgent_ms = 200;
  BatchCancelReport rep;
  long after = cancelled_batch(client, s, job, p, rep, &at);
  t.join();
  terminator.join();
  EXPECT_GE(after, 450);
  EXPECT_LT(after, 2500) << "the terminate did not shorten the drain";
  EXPECT_TRUE(rep.urgent);
  EXPECT_EQ(rep.in_flight, 2u);
  EXPECT_EQ(rep.unanswered, 2u);
}

// A terminate that is the first signal drains for urgent_ms only.
TEST(Drain, ATerminateAloneDrainsForItsOwnBound) {
  Flags flags;
  MiniServer srv([&](const MiniRequest&, int) { return MiniReply{MiniReply::Hang, ""}; });
  Client client;
  Settings s = settings_for(srv.url(), 1, 10);
  std::vector<std::uint64_t> keys = numbers(10);
  BatchJob job(keys.data(), keys.size(), s.batch_size);
  Clock::time_point at;
  std::thread t([&] {
    while (srv.requests() < 1) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    at = Clock::now();
    g_urgent = true;  // what a terminate raises: both flags
    g_cancel = true;
  });
  CancelPolicy p = drain_policy(5000);
  p.urgent = urgent_flag;
  p.urgent_ms = 300;
  BatchCancelReport rep;
  long after = cancelled_batch(client, s, job, p, rep, &at);
  t.join();
  EXPECT_GE(after, 250);
  EXPECT_LT(after, 2000);
  EXPECT_TRUE(rep.urgent);
  EXPECT_EQ(rep.unanswered, 1u);
}

// A second cancel during the drain does not start it over: the deadline
// stays the first cancel's.
TEST(Drain, ASecondCancelDoesNotExtendTheDrain) {
  Flags flags;
  MiniServer srv([&](const MiniRequest&, int) { return MiniReply{MiniReply::Hang, ""}; });
  Client client;
  Settings s = settings_for(srv.url(), 1, 10);
  std::vector<std::uint64_t> keys = numbers(10);
  BatchJob job(keys.data(), keys.size(), s.batch_size);
  Clock::time_point at;
  std::thread t = cancel_when(srv, 1, 50, &at);
  std::thread again([&] {
    while (!g_cancel) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    g_cancel = false;  // handled ...
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    g_cancel = true;   // ... and a second one
  });
  BatchCancelReport rep;
  long after = cancelled_batch(client, s, job, drain_policy(1000), rep, &at);
  t.join();
  again.join();
  EXPECT_GE(after, 950);
  EXPECT_LT(after, 1450) << "the second cancel extended the drain";
  EXPECT_EQ(rep.unanswered, 1u);
}
