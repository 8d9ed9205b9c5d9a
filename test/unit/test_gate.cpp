// The gate in the request loop (gate.hpp, HttpPool::run): every attempt is
// admitted before it starts, a Wait holds it back without sending anything,
// a Refuse stops the run with nothing more sent, and everything admitted is
// given back exactly once, whatever ends the run.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "client.hpp"
#include "gate.hpp"
#include "http.hpp"
#include "lookup_service.hpp"
#include "memo.hpp"
#include "mini_server.hpp"

using namespace qxt;
using qxt_test::http_ok;
using qxt_test::http_status;
using qxt_test::MiniReply;
using qxt_test::MiniRequest;
using qxt_test::MiniServer;

namespace {

MiniReply send(std::string bytes) { return {MiniReply::Send, std::move(bytes)}; }

std::string batch_answer(const std::string& body) {
  std::string out = "[";
  std::size_t pos = body.find('[');
  bool first = true;
  while ((pos = body.find('"', pos)) != std::string::npos) {
    std::string num = body.substr(pos + 1, 11);
    pos += 13;
    if (!first) out += ',';
    first = false;
    out += R"({"code":0,"reason":"Succ","result":{"res":"0","Mobile":")" + num +
           R"(","Area":"a","Init_Isp":"b","Now_Isp":"c"}})";
  }
  return out + "]";
}

const char* kSingle =
    R"({"code":0,"reason":"Succ","result":{"res":"1","Mobile":"13972565391","Area":"a","Init_isp":"b","Now_isp":"c"}})";

// A gate with a cap on requests in flight, a budget of numbers, and a
// record of every call.
struct FakeGate : Gate {
  int cap = 1000;
  long budget = -1;          // numbers; -1: unlimited
  int wait_first = 0;        // answer Wait this many times first
  long spent = 0;
  int in_flight = 0, max_in_flight = 0;
  int admitted = 0, ended_n = 0, abandoned_n = 0, stopped = 0, waits = 0, throttled = 0;
  int unfinished = 0;  // ended after reaching the vendor with no complete answer
  long paid_n = 0, memo_n = 0, cache_n = 0, sent_numbers = 0;

  Admission admit(GateRequest& r, Error* why) noexcept override {
    if (!r.budgeted && budget >= 0) {
      if (spent + static_cast<long>(r.numbers) > budget) {
        *why = make_error(ErrorKind::StatementBudget, "budget");
        return Admission::Refuse;
      }
      spent += static_cast<long>(r.numbers);
      r.budgeted = true;
    }
    if (wait_first > 0) {
      --wait_first;
      ++waits;
      return Admission::Wait;
    }
    if (in_flight >= cap) {
      ++waits;
      return Admission::Wait;
    }
    ++admitted;
    max_in_flight = std::max(max_in_flight, ++in_flight);
    return Admission::Go;
  }
  void ended(GateRequest& r, const GateOutcome& o) noexcept override {
    --in_flight;
    ++ended_n;
    if (o.throttled) ++throttled;
    if (o.unfinished) ++unfinished;
    if (o.reached) sent_numbers += static_cast<long>(r.numbers);
    if (!o.reached && r.budgeted) {
      spent -= static_cast<long>(r.numbers);
      r.budgeted = false;
    }
  }
  void abandoned(GateRequest& r, bool reached) noexcept override {
    --in_flight;
    ++abandoned_n;
    if (!reached && r.budgeted) {
      spent -= static_cast<long>(r.numbers);
      r.budgeted = false;
    }
  }
  void stop_waiting(GateRequest& r) noexcept override {
    ++stopped;
    if (r.budgeted) {
      spent -= static_cast<long>(r.numbers);
      r.budgeted = false;
    }
  }
  bool preflight(Endpoint, std::size_t n, Error* why) noexcept override {
    if (budget < 0 || spent + static_cast<long>(n) <= budget) return true;
    *why = make_error(ErrorKind::StatementBudget, "budget");
    return false;
  }
  void paid(Endpoint, std::size_t n) noexcept override { paid_n += static_cast<long>(n); }
  void known(Endpoint, std::size_t m, std::size_t c) noexcept override {
    memo_n += static_cast<long>(m);
    cache_n += static_cast<long>(c);
  }
};

Settings settings_for(const MiniServer& s, Gate* g) {
  Settings st;
  st.apikey = "0123456789abcdef0123456789abcdef";
  st.http.base_url = s.url();
  st.http.max_retries = 2;
  st.http.timeout_ms = 5000;
  st.http.gate = g;
  return st;
}

std::vector<std::uint64_t> numbers(int n) {
  std::vector<std::uint64_t> keys;
  for (int i = 1; i <= n; ++i) keys.push_back(13900000000ULL + i);
  return keys;
}

std::atomic<bool> g_cancel{false};
bool cancel_check() { return g_cancel.load(); }

}  // namespace

TEST(Gate, CapsRequestsInFlightBelowTheBatchConcurrency) {
  MiniServer srv([&](const MiniRequest& r, int) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return send(http_ok(batch_answer(r.body)));
  });
  FakeGate gate;
  gate.cap = 2;
  Client client;
  Settings s = settings_for(srv, &gate);
  s.http.concurrency = 8;
  s.batch_size = 10;
  auto keys = numbers(100);
  BatchJob job(keys.data(), keys.size(), s.batch_size);
  client.batch(s, job, nullptr);
  EXPECT_EQ(job.answered(), 100u);
  EXPECT_EQ(srv.requests(), 10);
  EXPECT_EQ(srv.max_in_flight(), 2) << "the gate's cap, not qxt.batch_concurrency";
  EXPECT_EQ(gate.max_in_flight, 2);
  EXPECT_GT(gate.waits, 0);
  EXPECT_EQ(gate.admitted, 10);
  EXPECT_EQ(gate.ended_n, 10);
  EXPECT_EQ(gate.in_flight, 0);
  EXPECT_EQ(gate.paid_n, 100);
  EXPECT_EQ(gate.sent_numbers, 100);
}

TEST(Gate, AWaitSendsNothingUntilAdmitted) {
  MiniServer srv([&](const MiniRequest&, int) { return send(http_ok(kSingle)); });
  FakeGate gate;
  gate.wait_first = 5;
  Client client;
  Settings s = settings_for(srv, &gate);
  EXPECT_EQ(client.carrier(s, "13972565391", nullptr).res, 1);
  EXPECT_EQ(srv.requests(), 1);
  EXPECT_EQ(gate.waits, 5);
  EXPECT_EQ(gate.admitted, 1);
  EXPECT_EQ(gate.paid_n, 1);
}

TEST(Gate, ARefusalStopsTheBatchBeforeTheRequestThatWouldExceedTheBudget) {
  MiniServer srv([&](const MiniRequest& r, int) { return send(http_ok(batch_answer(r.body))); });
  FakeGate gate;
  gate.budget = 25;
  Client client;
  Settings s = settings_for(srv, &gate);
  s.http.concurrency = 1;
  s.batch_size = 10;
  auto keys = numbers(100);
  BatchJob job(keys.data(), keys.size(), s.batch_size);
  try {
    client.batch(s, job, nullptr);
    ADD_FAILURE() << "no refusal";
  } catch (const QxtError& e) {
    EXPECT_EQ(e.error().sqlstate, "QX201");
  }
  EXPECT_EQ(srv.requests(), 2) << "the third request (numbers 21-30) would pass 25";
  EXPECT_EQ(job.answered(), 20u) << "what was paid for is kept";
  EXPECT_EQ(gate.spent, 20);
  EXPECT_EQ(gate.in_flight, 0);
}

TEST(Gate, RetriesAreAdmittedAgainButBudgetedOnce) {
  MiniServer srv([&](const MiniRequest& r, int i) {
    if (i < 2) return send(http_status(429));
    return send(http_ok(batch_answer(r.body)));
  });
  FakeGate gate;
  gate.budget = 10;
  Client client;
  Settings s = settings_for(srv, &gate);
  s.http.concurrency = 1;
  s.batch_size = 10;
  auto keys = numbers(10);
  BatchJob job(keys.data(), keys.size(), s.batch_size);
  client.batch(s, job, nullptr);
  EXPECT_EQ(job.answered(), 10u);
  EXPECT_EQ(srv.requests(), 3);
  EXPECT_EQ(gate.admitted, 3);
  EXPECT_EQ(gate.throttled, 2) << "429 is the vendor throttling";
  EXPECT_EQ(gate.spent, 10) << "a refused request's retry is not counted again";
}

TEST(Gate, ANumberNotSentIsGivenBack) {
  // Nothing listens: nothing can have been sent, so nothing stays spent.
  int port;
  {
    MiniServer probe([&](const MiniRequest&, int) { return send(http_ok(kSingle)); });
    port = std::stoi(probe.url().substr(probe.url().rfind(':') + 1));
  }
  FakeGate gate;
  gate.budget = 5;
  Client client;
  Settings s;
  s.apikey = "0123456789abcdef0123456789abcdef";
  s.http.base_url = "http://127.0.0.1:" + std::to_string(port);
  s.http.max_retries = 1;
  s.http.gate = &gate;
  try {
    client.carrier(s, "13972565391", nullptr);
    ADD_FAILURE() << "no error";
  } catch (const QxtError& e) {
    EXPECT_EQ(e.error().sqlstate, "08001");
  }
  EXPECT_EQ(gate.admitted, 2);
  EXPECT_EQ(gate.spent, 0);
  EXPECT_EQ(gate.in_flight, 0);
  EXPECT_EQ(gate.sent_numbers, 0);
}

TEST(Gate, ACancelWhileWaitingGivesTheWaitingRequestBack) {
  MiniServer srv([&](const MiniRequest&, int) { return send(http_ok(kSingle)); });
  FakeGate gate;
  gate.cap = 0;  // never admits
  gate.budget = 100;
  Client client;
  Settings s = settings_for(srv, &gate);
  g_cancel = false;
  std::thread t([] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    g_cancel = true;
  });
  EXPECT_EQ(
      [&] {
        try {
          client.carrier(s, "13972565391", cancel_check);
        } catch (const QxtError& e) {
          return e.error().kind;
        }
        return ErrorKind::Internal;
      }(),
      ErrorKind::Cancelled);
  t.join();
  g_cancel = false;
  EXPECT_EQ(srv.requests(), 0);
  EXPECT_EQ(gate.stopped, 1);
  EXPECT_EQ(gate.spent, 0);
  EXPECT_EQ(gate.in_flight, 0);
}

TEST(Gate, ACancelAbandonsAdmittedRequestsAndGivesTheirSlotsBack) {
  MiniServer srv([&](const MiniRequest& r, int) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    return send(http_ok(batch_answer(r.body)));
  });
  FakeGate gate;
  gate.cap = 2;
  Client client;
  Settings s = settings_for(srv, &gate);
  s.http.concurrency = 4;
  s.batch_size = 10;
  auto keys = numbers(100);
  BatchJob job(keys.data(), keys.size(), s.batch_size);
  g_cancel = false;
  std::thread t([] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    g_cancel = true;
  });
  EXPECT_THROW(client.batch(s, job, cancel_check), QxtError);
  t.join();
  g_cancel = false;
  EXPECT_EQ(gate.in_flight, 0) << "every admitted request given back";
  EXPECT_EQ(gate.abandoned_n, 2);
  EXPECT_EQ(gate.stopped, 1) << "the request waiting for a slot";
}

TEST(Gate, MemoHitsAreReported) {
  MiniServer srv([&](const MiniRequest&, int) { return send(http_ok(kSingle)); });
  FakeGate gate;
  Client client;
  Settings s = settings_for(srv, &gate);
  StatementMemo memo;
  memo.enter({1, 1, 1});
  carrier_once_per_statement(client, memo, s, "13972565391", nullptr);
  carrier_once_per_statement(client, memo, s, "13972565391", nullptr);
  EXPECT_EQ(srv.requests(), 1);
  EXPECT_EQ(gate.memo_n, 1);
  EXPECT_EQ(gate.paid_n, 1);
}

TEST(Gate, ABatchTheBudgetCannotPayWholeSendsNothing) {
  // qxt_carrier_batch is all or nothing: paying for part of it would throw
  // the part away with the statement.
  MiniServer srv([&](const MiniRequest& r, int) { return send(http_ok(batch_answer(r.body))); });
  FakeGate gate;
  gate.budget = 25;
  Client client;
  Settings s = settings_for(srv, &gate);
  s.batch_size = 10;
  StatementMemo memo;
  memo.enter({2, 2, 2});
  LookupService svc(client, memo, s, nullptr);
  auto keys = numbers(40);
  BatchJob* adopted = nullptr;
  try {
    svc.carrier_batch(keys.data(), keys.size(), nullptr, 0, [&](BatchJob* j) { adopted = j; });
    ADD_FAILURE() << "no refusal";
  } catch (const QxtError& e) {
    EXPECT_EQ(e.error().sqlstate, "QX201");
  }
  delete adopted;
  EXPECT_EQ(srv.requests(), 0);
  // 20 numbers fit: the batch runs.
  auto fewer = numbers(20);
  svc.carrier_batch(fewer.data(), fewer.size(), nullptr, 0, [&](BatchJob* j) { adopted = j; });
  EXPECT_EQ(adopted->answered(), 20u);
  delete adopted;
  EXPECT_EQ(srv.requests(), 2);
}

TEST(Gate, AnAttemptThatReachedTheVendorWithoutACompleteAnswerIsUnfinished) {
  // The vendor may still be working on a request that timed out or was cut
  // off (the governor keeps its slot); a complete answer, even a refusal,
  // is finished.
  MiniServer srv([&](const MiniRequest&, int i) {
    if (i == 0) return send(http_status(503));
    return MiniReply{MiniReply::Hang, ""};
  });
  FakeGate gate;
  Client client;
  Settings s = settings_for(srv, &gate);
  s.http.max_retries = 1;
  s.http.timeout_ms = 300;
  s.http.concurrency = 1;
  s.batch_size = 10;
  auto keys = numbers(10);
  BatchJob job(keys.data(), keys.size(), s.batch_size);
  EXPECT_ANY_THROW(client.batch(s, job, nullptr));
  EXPECT_EQ(srv.requests(), 2);
  EXPECT_EQ(gate.ended_n, 2);
  EXPECT_EQ(gate.throttled, 1);
  EXPECT_EQ(gate.unfinished, 1) << "the 503 came back whole; the timed-out attempt did not";
  EXPECT_EQ(gate.in_flight, 0);
}
