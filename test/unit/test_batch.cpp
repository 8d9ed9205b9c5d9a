// Batch bookkeeping: dedup in first-seen order, chunking, attribution of
// answers to the numbers asked (never to a wrong one).
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "batch.hpp"
#include "errors.hpp"
#include "normalize.hpp"

using namespace qxt;

namespace {

std::uint64_t key(const char* digits) { return mobile_to_key(digits); }

CarrierRecord ok(const std::string& mobile, int res = 0, const std::string& area = "湖北-宜昌") {
  CarrierRecord r;
  r.code = 0;
  r.reason = "Succ";
  r.res = res;
  r.mobile = mobile;
  r.area = area;
  r.init_isp = "移动";
  r.now_isp = res == 1 ? "电信" : "移动";
  return r;
}

CarrierRecord failed(const std::string& mobile, int code) {
  CarrierRecord r;
  r.code = code;
  r.reason = "x";
  r.mobile = mobile;
  return r;
}

}  // namespace

TEST(DistinctNumbers, KeepsFirstSeenOrderAndFindsEveryKey) {
  DistinctNumbers d;
  std::vector<std::uint64_t> input;
  std::mt19937_64 rng(7);
  for (int i = 0; i < 50000; ++i) input.push_back(13000000000ULL + rng() % 30000);
  std::vector<std::uint64_t> expected;
  std::set<std::uint64_t> seen;
  for (auto k : input) {
    d.add(k);
    if (seen.insert(k).second) expected.push_back(k);
  }
  ASSERT_EQ(d.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(d.keys()[i], expected[i]);
    EXPECT_EQ(d.find(expected[i]), i);
  }
  EXPECT_EQ(d.find(19999999999ULL), UINT32_MAX);
}

TEST(BatchJob, SendsEachDistinctValidNumberOnceInChunks) {
  std::vector<std::uint64_t> keys = {key("13972565391"), 0, key("13972565397"),
                                     key("13972565391"), 0, key("17012345678")};
  BatchJob job(keys.data(), keys.size(), 2);
  EXPECT_EQ(job.distinct(), 3u);
  EXPECT_EQ(job.chunks(), 2u);
  EXPECT_EQ(job.chunk_size(0), 2u);
  EXPECT_EQ(job.chunk_size(1), 1u);
  EXPECT_EQ(job.chunk_keys(0)[0], key("13972565391"));
  EXPECT_EQ(job.chunk_keys(0)[1], key("13972565397"));
  EXPECT_EQ(job.chunk_keys(1)[0], key("17012345678"));
  EXPECT_EQ(job.result_for(0), nullptr);
}

TEST(BatchJob, BatchSizeIsClampedToTheVendorLimit) {
  std::vector<std::uint64_t> keys;
  for (int i = 0; i < 2500; ++i) keys.push_back(13900000000ULL + i);
  EXPECT_EQ(BatchJob(keys.data(), keys.size(), 5000).chunks(), 3u);
  EXPECT_EQ(BatchJob(keys.data(), keys.size(), 0).chunks(), 2500u);
  EXPECT_EQ(BatchJob(keys.data(), 0, 1000).chunks(), 0u);
}

TEST(BatchJob, RecordsAnswersPositionallyAndByMobile) {
  std::vector<std::uint64_t> keys = {key("13972565391"), key("13972565397"), key("13800000000")};
  BatchJob job(keys.data(), keys.size(), 1000);
  // Reordered, and the failure element carries no Mobile at its position.
  std::vector<CarrierRecord> items = {ok("13972565397", 1), ok("13972565391", 0),
                                      failed("", -4)};
  job.record(0, items);
  const CompactResult* a = job.result_for(key("13972565391"));
  const CompactResult* b = job.result_for(key("13972565397"));
  const CompactResult* c = job.result_for(key("13800000000"));
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(a->code, 0);
  EXPECT_EQ(a->res, 0);
  EXPECT_EQ(job.text(a->now_isp), "移动");
  EXPECT_EQ(b->res, 1);
  EXPECT_EQ(job.text(b->now_isp), "电信");
  EXPECT_EQ(job.text(b->area), "湖北-宜昌");
  EXPECT_EQ(c->code, -4);
  EXPECT_EQ(job.answered(), 3u);
}

TEST(BatchJob, InternsRepeatedTexts) {
  std::vector<std::uint64_t> keys;
  std::vector<CarrierRecord> items;
  for (int i = 0; i < 1000; ++i) {
    keys.push_back(13900000001ULL + i);
    items.push_back(ok(std::to_string(13900000001ULL + i), 0, i % 2 ? "广东-深圳" : "湖北-武汉"));
  }
  BatchJob job(keys.data(), keys.size(), 1000);
  job.record(0, items);
  EXPECT_EQ(job.result_for(keys[0])->area, job.result_for(keys[2])->area);
  EXPECT_NE(job.result_for(keys[0])->area, job.result_for(keys[1])->area);
}

// A mismatched answer still keeps every element its Mobile attributes to a
// number asked (the vendor charged them), never one by position, and then
// raises QX105.
TEST(BatchJob, MismatchedAnswersKeepWhatTheirMobileAttributesAndRaise) {
  std::vector<std::uint64_t> keys = {key("13972565391"), key("13972565397")};
  // `kept[i]`: whether number i must be recorded afterwards.
  auto expect_mismatch = [&](std::vector<CarrierRecord> items, std::vector<bool> kept,
                             const char* what) {
    SCOPED_TRACE(what);
    BatchJob job(keys.data(), keys.size(), 1000);
    try {
      job.record(0, items);
      ADD_FAILURE() << "accepted a mismatched answer";
    } catch (const QxtError& e) {
      EXPECT_EQ(e.error().kind, ErrorKind::BatchMismatch);
      EXPECT_EQ(e.error().sqlstate, "QX105");
    }
    std::size_t n = 0;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      const CompactResult* r = job.result_for(keys[i]);
      ASSERT_NE(r, nullptr);
      if (kept[i]) {
        ++n;
        EXPECT_EQ(r->code, 0) << i;
        EXPECT_EQ(r->res, i == 1 ? 1 : 0) << "attributed to the wrong number";
      } else {
        EXPECT_EQ(r->code, CompactResult::kNotAsked) << i;
      }
    }
    EXPECT_EQ(job.answered(), n);
  };
  expect_mismatch({ok("13972565397", 1)}, {false, true}, "too few, with Mobile");
  expect_mismatch({ok(""), }, {false, false}, "too few, no Mobile: never by position");
  expect_mismatch({ok("13972565391"), ok("13972565397", 1), ok("13972565398")}, {true, true},
                  "too many");
  expect_mismatch({ok(""), ok(""), ok("")}, {false, false}, "too many, no Mobile");
  expect_mismatch({ok("13972565391"), ok("13972565398")}, {true, false}, "unrequested");
  expect_mismatch({ok(""), ok("13972565398")}, {false, false},
                  "unrequested beside one without Mobile: position is not trusted");
  expect_mismatch({ok("13972565391"), ok("13972565391")}, {false, false},
                  "repeated: neither copy is trusted");
  expect_mismatch({ok(""), ok("13972565391")}, {true, false},
                  "a position claimed twice: only the Mobile counts");
  expect_mismatch({ok("13972565391"), ok("not a number")}, {true, false}, "junk Mobile");
}

// Unreadable elements (parse_batch_salvaging) are never recorded, and make
// positions untrusted; they are no mismatch by themselves (record returns,
// the client reports them).
TEST(BatchJob, UnreadableElementsAreLeftOutAndPositionsUntrusted) {
  std::vector<std::uint64_t> keys = {key("13972565391"), key("13972565397"), key("17012345678")};
  CarrierRecord odd;
  odd.unreadable = true;
  {
    BatchJob job(keys.data(), keys.size(), 1000);
    EXPECT_EQ(job.record(0, {ok("13972565391"), odd, ok("17012345678")}), 2u);
    EXPECT_EQ(job.result_for(keys[1])->code, CompactResult::kNotAsked);
    EXPECT_EQ(job.answered(), 2u);
  }
  {
    BatchJob job(keys.data(), keys.size(), 1000);
    EXPECT_EQ(job.record(0, {ok(""), odd, ok("")}), 0u) << "attributed by position";
    EXPECT_EQ(job.answered(), 0u);
  }
}

TEST(BatchJob, MismatchMessageSaysWhatWasKept) {
  std::vector<std::uint64_t> keys = {key("13972565391"), key("13972565397"), key("17012345678")};
  BatchJob job(keys.data(), keys.size(), 1000);
  try {
    job.record(0, {ok("17012345678"), ok("13972565391")});
    ADD_FAILURE();
  } catch (const QxtError& e) {
    EXPECT_NE(e.error().detail.find("request of 3 numbers, answer of 2 elements"),
              std::string::npos)
        << e.error().detail;
    EXPECT_NE(e.error().detail.find("2 elements naming a number asked were kept"),
              std::string::npos)
        << e.error().detail;
  }
  EXPECT_EQ(job.answered(), 2u);
}

// Account-level codes in the elements (a partial charge) are recorded as
// refusals: not answers, left out of for_each_sent_answer.
TEST(BatchJob, AccountLevelElementsAreRefusalsNotAnswers) {
  std::vector<std::uint64_t> keys = {key("13972565391"), key("13972565397"), key("17012345678"),
                                     key("13800000000")};
  BatchJob job(keys.data(), keys.size(), 1000);
  job.record(0, {ok("13972565391"), failed("13800000000", -4), failed("13972565397", -5),
                 failed("17012345678", -5)});
  EXPECT_EQ(job.answered(), 2u);
  EXPECT_EQ(job.refused(), 2u);
  EXPECT_TRUE(job.result_for(keys[0])->is_answer());
  EXPECT_TRUE(job.result_for(keys[3])->is_answer()) << "-4 is the vendor's answer for the number";
  EXPECT_FALSE(job.result_for(keys[1])->is_answer());
  EXPECT_EQ(job.result_for(keys[1])->code, -5);
  std::vector<std::uint64_t> seen;
  job.for_each_sent_answer([&](std::uint64_t k, const CompactResult&) { seen.push_back(k); });
  EXPECT_EQ(seen, (std::vector<std::uint64_t>{keys[0], keys[3]}));
}

TEST(BatchJob, AnswerForANumberOfAnotherChunkIsAMismatch) {
  std::vector<std::uint64_t> keys = {key("13972565391"), key("13972565397")};
  BatchJob job(keys.data(), keys.size(), 1);
  EXPECT_THROW(job.record(0, {ok("13972565397")}), QxtError);
  job.record(1, {ok("13972565397", 1)});
  EXPECT_EQ(job.result_for(keys[1])->res, 1);
}

TEST(BatchJob, AMillionNumbersStayCompact) {
  // The per-number bookkeeping is small and fixed-size.
  static_assert(sizeof(CompactResult) <= 12, "CompactResult grew");
  std::vector<std::uint64_t> keys(1000000);
  for (std::size_t i = 0; i < keys.size(); ++i) keys[i] = 13000000000ULL + i * 7;
  BatchJob job(keys.data(), keys.size(), 1000);
  EXPECT_EQ(job.distinct(), 1000000u);
  EXPECT_EQ(job.chunks(), 1000u);
}
