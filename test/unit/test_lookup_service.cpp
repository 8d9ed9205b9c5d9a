// The lookup service: memo, cached rows and vendor composed for the single
// and the batch path.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "lookup_service.hpp"
#include "mini_server.hpp"
#include "normalize.hpp"

using namespace qxt;
using namespace qxt_test;

namespace {

constexpr const char* kKey = "0123456789abcdef0123456789abcdef";

// A vendor that answers every number with success and counts the numbers
// it was asked (single and batch).
struct Vendor {
  std::atomic<int> numbers{0};
  MiniServer srv{[this](const MiniRequest& r, int) {
    if (r.head.find("/carrier_batch") != std::string::npos) {
      std::string out = "[";
      for (const std::string& n : asked(r.body)) {
        ++numbers;
        if (out.size() > 1) out += ',';
        out += R"({"code":0,"reason":"Succ","result":{"res":"0","Mobile":")" + n +
               R"(","Area":"广东-深圳","Init_Isp":"移动","Now_Isp":"移动"}})";
      }
      return MiniReply{MiniReply::Send, http_ok(out + "]")};
    }
    ++numbers;
    return MiniReply{MiniReply::Send,
                     http_ok(R"({"code":0,"reason":"Succ","result":{"res":"0","Mobile":"13972565391","Area":"湖北-宜昌","Init_isp":"移动","Now_isp":"移动"}})")};
  }};
  Settings settings() {
    Settings s;
    s.apikey = kKey;
    s.http.base_url = srv.url();
    return s;
  }
};

std::uint64_t key(const char* mobile) { return mobile_to_key(mobile); }

CarrierRecord answer(const char* mobile, int code) {
  CarrierRecord r;
  r.code = code;
  r.res = code == 0 ? 1 : -1;
  r.mobile = mobile;
  if (code == 0) {
    r.area = "湖北-武汉";
    r.init_isp = "移动";
    r.now_isp = "电信";
  }
  return r;
}

// A statement whose memo knows 13972565391, asking a counting vendor.
struct WithVendor {
  Vendor v;
  Client client;
  StatementMemo memo;
  Settings s = v.settings();
  LookupService svc{client, memo, s, nullptr};
  WithVendor() {
    memo.enter({1, 1, 1});
    memo.put(key("13972565391"), answer("13972565391", 0));
  }
};

// Runs the batch path, the job owned here as the glue's memory context does.
std::unique_ptr<BatchJob> run_batch(LookupService& svc, const std::vector<std::uint64_t>& keys,
                                    const std::vector<CachedRow>& rows = {}) {
  BatchJob* owned = nullptr;
  svc.carrier_batch(keys.data(), keys.size(), rows.data(), rows.size(),
                    [&](BatchJob* job) { owned = job; });
  return std::unique_ptr<BatchJob>(owned);
}

}  // namespace

TEST(LookupService, SingleCachedSuccessSendsNothing) {
  Client client;
  StatementMemo memo;
  memo.enter({1, 1, 1});
  Settings s;  // no key, no URL: sending would fail
  LookupService svc(client, memo, s, nullptr);
  const CachedRow row{key("13972565391"), 0, 1, "湖北-宜昌", "移动", "电信"};
  CarrierRecord r = svc.carrier("13972565391", &row);
  EXPECT_EQ(r.res, 1);
  EXPECT_EQ(r.mobile, "13972565391");
  EXPECT_EQ(r.area, "湖北-宜昌");
  EXPECT_EQ(r.now_isp, "电信");
  EXPECT_EQ(memo.size(), 0u) << "a cached answer is not the statement's";
}

TEST(LookupService, SingleCachedFailureIsRaisedAsTheVendorsCode) {
  Client client;
  StatementMemo memo;
  memo.enter({1, 1, 1});
  Settings s;
  LookupService svc(client, memo, s, nullptr);
  const CachedRow row{key("13800000000"), -4, -1, "", "", ""};
  try {
    svc.carrier("13800000000", &row);
    ADD_FAILURE() << "no error";
  } catch (const QxtError& e) {
    EXPECT_EQ(e.error().kind, ErrorKind::NotFound);
    EXPECT_EQ(e.error().vendor_code, -4);
    EXPECT_NE(e.error().detail.find("qxt_lookups"), std::string::npos) << e.error().detail;
    EXPECT_NE(e.error().detail.find("nothing was sent"), std::string::npos);
  }
}

TEST(LookupService, SingleWithoutRowAsksOncePerStatement) {
  Vendor v;
  Client client;
  StatementMemo memo;
  memo.enter({1, 1, 1});
  Settings s = v.settings();
  LookupService svc(client, memo, s, nullptr);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(svc.carrier("13972565391", nullptr).area, "湖北-宜昌");
  EXPECT_EQ(v.numbers.load(), 1);
  EXPECT_EQ(memo.size(), 1u);
}

TEST(LookupService, SmallBatchMemoFirstThenCacheThenVendorAndFeedsTheMemo) {
  WithVendor w;
  Vendor& v = w.v;
  StatementMemo& memo = w.memo;
  LookupService& svc = w.svc;
  // 13972565391: memo and cache both know it; the memo wins.
  const std::vector<CachedRow> rows = {{key("13972565391"), 0, 0, "北京", "联通", "联通"},
                                       {key("13800000000"), -4, -1, "", "", ""}};
  const std::vector<std::uint64_t> keys = {key("13972565391"), key("13800000000"),
                                           key("13900000001"), 0, key("13900000001")};
  auto job = run_batch(svc, keys, rows);
  ASSERT_NE(job, nullptr);
  EXPECT_EQ(v.numbers.load(), 1) << "only the number neither memo nor cache knows is sent";
  EXPECT_EQ(job->text(job->result_for(key("13972565391"))->area), "湖北-武汉");
  EXPECT_EQ(job->result_for(key("13800000000"))->code, -4);
  EXPECT_EQ(job->text(job->result_for(key("13900000001"))->area), "广东-深圳");
  // The vendor's answer is now the statement's: asked again, nothing is sent.
  ASSERT_NE(memo.find(key("13900000001")), nullptr);
  EXPECT_EQ(memo.find(key("13800000000")), nullptr) << "a cached row does not feed the memo";
  auto again = run_batch(svc, {key("13900000001")});
  EXPECT_EQ(v.numbers.load(), 1);
  EXPECT_EQ(svc.carrier("13900000001", nullptr).area, "广东-深圳");
  EXPECT_EQ(v.numbers.load(), 1);
}

TEST(LookupService, LargeBatchNeitherReadsNorFeedsTheMemo) {
  WithVendor w;
  Vendor& v = w.v;
  StatementMemo& memo = w.memo;
  LookupService& svc = w.svc;
  // More inputs than kMaxBatchForMemo, few distinct numbers.
  std::vector<std::uint64_t> keys(StatementMemo::kMaxBatchForMemo + 1, key("13972565391"));
  keys[0] = key("13900000001");
  const std::vector<CachedRow> rows = {{key("13900000001"), 0, 0, "北京", "联通", "联通"}};
  auto job = run_batch(svc, keys, rows);
  EXPECT_EQ(v.numbers.load(), 1) << "the memo's number is sent, the cached one is not";
  EXPECT_EQ(job->text(job->result_for(key("13972565391"))->area), "广东-深圳");
  EXPECT_EQ(job->text(job->result_for(key("13900000001"))->area), "北京");
  EXPECT_EQ(memo.size(), 1u) << "a large batch does not feed the memo";
}

TEST(LookupService, FailedBatchStillFeedsTheMemoAndHandsOverTheJob) {
  std::atomic<int> requests{0};
  MiniServer srv([&](const MiniRequest& r, int) {
    ++requests;
    const std::vector<std::string> nums = asked(r.body);
    // The first number answered (charged), the second refused: balance out.
    std::string out = R"([{"code":0,"reason":"Succ","result":{"res":"0","Mobile":")" + nums[0] +
                      R"(","Area":"广东-深圳","Init_Isp":"移动","Now_Isp":"移动"}},)" +
                      R"({"code":-5,"reason":"no balance","result":{"Mobile":")" + nums[1] +
                      R"("}}])";
    return MiniReply{MiniReply::Send, http_ok(out)};
  });
  Client client;
  StatementMemo memo;
  memo.enter({1, 1, 1});
  Settings s;
  s.apikey = kKey;
  s.http.base_url = srv.url();
  LookupService svc(client, memo, s, nullptr);
  const std::vector<std::uint64_t> keys = {key("13900000001"), key("13900000002")};
  BatchJob* owned = nullptr;
  try {
    svc.carrier_batch(keys.data(), keys.size(), nullptr, 0, [&](BatchJob* job) { owned = job; });
    ADD_FAILURE() << "no error";
  } catch (const QxtError& e) {
    EXPECT_EQ(e.error().kind, ErrorKind::BalanceExhausted);
  }
  std::unique_ptr<BatchJob> job(owned);
  ASSERT_NE(job, nullptr) << "the job is the caller's before anything is sent";
  EXPECT_EQ(requests.load(), 1);
  ASSERT_NE(memo.find(key("13900000001")), nullptr) << "what was paid for stays known";
  EXPECT_EQ(memo.find(key("13900000002")), nullptr) << "a refusal is not an answer";
}

TEST(LookupService, BatchFailuresTallyNullsNonNumbersAndVendorCodes) {
  WithVendor w;
  const std::vector<std::uint64_t> keys = {0, 0, key("13800138000"), key("13900139000")};
  const bool is_null[] = {true, false, false, false};
  auto job = run_batch(w.svc, keys, {{key("13900139000"), -4, -1, "", "", ""}});
  const BatchFailures t = tally_failures(job.get(), keys.data(), is_null, keys.size());
  EXPECT_EQ(t.null_inputs, 1);
  EXPECT_EQ(t.invalid_inputs, 1);
  EXPECT_EQ(t.by_code[vendor_code_index(-4)], 1);
  EXPECT_EQ(t.failed(), 3);
  char detail[BatchFailures::kDescribeCap];
  t.describe(detail, sizeof detail);
  EXPECT_STREQ(detail,
               "1 NULL, 1 not a mobile number (not sent), 1 answered by the vendor with code -4 "
               "(no information found)");
}

TEST(LookupService, BatchFailuresWithoutFailuresDescribeNothing) {
  const BatchFailures t;
  EXPECT_EQ(t.failed(), 0);
  char detail[BatchFailures::kDescribeCap];
  t.describe(detail, sizeof detail);
  EXPECT_STREQ(detail, "");
}
