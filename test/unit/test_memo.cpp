// The per-statement memo and answers known before sending.
#include <gtest/gtest.h>

#include "batch.hpp"
#include "lookup_service.hpp"
#include "memo.hpp"
#include "mini_server.hpp"
#include "normalize.hpp"

using namespace qxt;

namespace {
CarrierRecord answer(const char* mobile, int code, int res = 0) {
  CarrierRecord r;
  r.code = code;
  r.res = res;
  r.mobile = mobile;
  if (code == 0) {
    r.area = "湖北-宜昌";
    r.init_isp = "移动";
    r.now_isp = res == 1 ? "电信" : "移动";
  }
  return r;
}
}  // namespace

TEST(StatementMemo, KeepsPerNumberAnswersForOneStatementOnly) {
  StatementMemo memo;
  StatementId a{1000, 7, fingerprint("http://x", "k")};
  memo.enter(a);
  memo.put(mobile_to_key("13972565391"), answer("13972565391", 0));
  memo.put(mobile_to_key("13800000000"), answer("13800000000", -4));
  memo.put(mobile_to_key("13972565397"), answer("13972565397", -5));  // request-level: never kept
  memo.put(mobile_to_key("13972565398"), answer("13972565398", -8));
  EXPECT_EQ(memo.size(), 2u);
  ASSERT_NE(memo.find(mobile_to_key("13972565391")), nullptr);
  EXPECT_EQ(memo.find(mobile_to_key("13800000000"))->code, -4);
  EXPECT_EQ(memo.find(mobile_to_key("13972565397")), nullptr);
  memo.enter(a);  // same statement: kept
  EXPECT_EQ(memo.size(), 2u);
  memo.enter({1001, 7, a.settings_fingerprint});  // next statement
  EXPECT_EQ(memo.size(), 0u);
  memo.put(mobile_to_key("13972565391"), answer("13972565391", 0));
  memo.enter({1001, 7, fingerprint("http://x", "other key")});  // other account
  EXPECT_EQ(memo.size(), 0u);
}

// One statement that asks through two URLs (or keys) in turn keeps the
// answers of each: going back to the first must not pay for its numbers
// again.  Each account's answers stay its own.
TEST(StatementMemo, KeepsEachKeyAndUrlForTheWholeStatement) {
  StatementMemo memo;
  const std::uint64_t here = fingerprint("http://x", "k");
  const std::uint64_t there = fingerprint("http://y", "k");
  const std::uint64_t k391 = mobile_to_key("13972565391");
  memo.enter({1000, 7, here});
  memo.put(k391, answer("13972565391", 0));
  memo.enter({1000, 7, there});
  EXPECT_EQ(memo.find(k391), nullptr) << "another URL's answer served";
  memo.put(k391, answer("13972565391", 0, 1));
  memo.enter({1000, 7, here});
  ASSERT_NE(memo.find(k391), nullptr) << "switching URLs forgot the first URL's answers";
  EXPECT_EQ(memo.find(k391)->res, 0);
  memo.enter({1000, 7, there});
  ASSERT_NE(memo.find(k391), nullptr);
  EXPECT_EQ(memo.find(k391)->res, 1);
  // The next statement forgets all of them.
  memo.enter({1001, 7, here});
  EXPECT_EQ(memo.find(k391), nullptr);
  memo.enter({1001, 7, there});
  EXPECT_EQ(memo.find(k391), nullptr);
}

TEST(StatementMemo, FingerprintSeparatesUrlAndKey) {
  EXPECT_NE(fingerprint("http://a", "bc"), fingerprint("http://ab", "c"));
  EXPECT_EQ(fingerprint("u", "k"), fingerprint("u", "k"));
}

TEST(BatchJob, KnownAnswersAreNotSent) {
  StatementMemo memo;
  memo.enter({1, 1, 1});
  memo.put(mobile_to_key("13972565397"), answer("13972565397", 0, 1));
  memo.put(mobile_to_key("13800000000"), answer("13800000000", -4));
  std::vector<std::uint64_t> keys = {mobile_to_key("13972565391"), mobile_to_key("13972565397"),
                                     mobile_to_key("13800000000"), mobile_to_key("13972565391")};
  const KnownAnswers known(&memo, nullptr, 0);
  BatchJob job(keys.data(), keys.size(), 1000, std::cref(known));
  EXPECT_EQ(job.distinct(), 3u);
  EXPECT_EQ(job.to_send(), 1u);
  EXPECT_EQ(job.known(), 2u);
  ASSERT_EQ(job.chunks(), 1u);
  EXPECT_EQ(job.chunk_keys(0)[0], keys[0]);
  EXPECT_EQ(job.result_for(keys[1])->res, 1);
  EXPECT_EQ(job.text(job.result_for(keys[1])->now_isp), "电信");
  EXPECT_EQ(job.result_for(keys[2])->code, -4);
  EXPECT_EQ(job.result_for(keys[0])->code, CompactResult::kNotAsked);
  // The vendor's answer for the one sent number goes into the memo.
  job.record(0, {answer("13972565391", 0)});
  memo.put_all(job);
  EXPECT_EQ(memo.size(), 3u);
  EXPECT_EQ(memo.find(keys[0])->now_isp, "移动");
}

TEST(BatchJob, AllKnownMeansNothingToSendAndNoKeyNeeded) {
  StatementMemo memo;
  memo.enter({1, 1, 1});
  memo.put(mobile_to_key("13972565391"), answer("13972565391", 0));
  std::vector<std::uint64_t> keys = {mobile_to_key("13972565391")};
  const KnownAnswers known(&memo, nullptr, 0);
  BatchJob job(keys.data(), keys.size(), 1000, std::cref(known));
  EXPECT_EQ(job.chunks(), 0u);
  Client client;
  Settings s;  // no key, no URL: nothing may be sent
  EXPECT_NO_THROW(client.batch(s, job, nullptr));
}

TEST(CarrierOncePerStatement, SecondAskIsAnsweredFromMemory) {
  using namespace qxt_test;
  MiniServer srv([](const MiniRequest& r, int) {
    if (r.body.find("13800000000") != std::string::npos)
      return MiniReply{MiniReply::Send, http_ok(R"({"code":-4,"reason":"none"})")};
    return MiniReply{MiniReply::Send,
                     http_ok(R"({"code":0,"reason":"Succ","result":{"res":"0","Mobile":"13972565391","Area":"湖北-宜昌","Init_isp":"移动","Now_isp":"移动"}})")};
  });
  Client client;
  StatementMemo memo;
  memo.enter({1, 1, 1});
  Settings s;
  s.apikey = "k";
  s.http.base_url = srv.url();
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(carrier_once_per_statement(client, memo, s, "13972565391", nullptr).area, "湖北-宜昌");
  for (int i = 0; i < 3; ++i) {
    try {
      carrier_once_per_statement(client, memo, s, "13800000000", nullptr);
      ADD_FAILURE();
    } catch (const QxtError& e) {
      EXPECT_EQ(e.error().kind, ErrorKind::NotFound);
      EXPECT_EQ(e.error().vendor_code, -4);
    }
  }
  EXPECT_EQ(srv.requests(), 2);
}
