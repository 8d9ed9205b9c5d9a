// nlohmann/json as an independent oracle: answers it serialises (random
// numbers, areas with escapes, key casings, res as string or number) must
// parse to the same values with our one-pass reader, and the request bodies
// we build must be the JSON nlohmann reads back.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "normalize.hpp"
#include "request.hpp"
#include "response.hpp"

using nlohmann::json;
using namespace qxt;

namespace {

std::string random_case(std::string key, std::mt19937& rng) {
  for (char& c : key)
    if (rng() % 2) c = static_cast<char>(std::isupper(static_cast<unsigned char>(c)) ? std::tolower(c) : std::toupper(c));
  return key;
}

}  // namespace

TEST(JsonOracle, RandomBatchAnswersParseToWhatNlohmannSerialised) {
  std::mt19937 rng(42);
  const std::vector<std::string> areas = {"湖北-宜昌", "广东-深圳", "a\"quoted\\area", "tab\there",
                                          "€ ☃ 😀", ""};
  const std::vector<std::string> isps = {"移动", "联通", "电信", "广电"};
  for (int round = 0; round < 200; ++round) {
    json arr = json::array();
    std::vector<CarrierRecord> want;
    int n = 1 + static_cast<int>(rng() % 50);
    for (int i = 0; i < n; ++i) {
      CarrierRecord r;
      r.code = rng() % 5 == 0 ? -4 : 0;
      r.reason = r.code == 0 ? "Succ" : "未查询到相关信息";
      r.mobile = "1" + std::to_string(3 + rng() % 7) + std::to_string(100000000 + rng() % 900000000);
      json item;
      item[random_case("code", rng)] = rng() % 2 ? json(r.code) : json(std::to_string(r.code));
      item["reason"] = r.reason;
      json res;
      res["Mobile"] = r.mobile;
      if (r.code == 0) {
        r.res = std::vector<int>{0, 1, 3}[rng() % 3];
        r.area = areas[rng() % areas.size()];
        r.init_isp = isps[rng() % isps.size()];
        r.now_isp = isps[rng() % isps.size()];
        res[random_case("res", rng)] = rng() % 2 ? json(r.res) : json(std::to_string(r.res));
        res[random_case("Area", rng)] = r.area;
        res[rng() % 2 ? "Init_Isp" : "Init_isp"] = r.init_isp;
        res[rng() % 2 ? "Now_Isp" : "Now_isp"] = r.now_isp;
      }
      item["result"] = res;
      arr.push_back(item);
      want.push_back(r);
    }
    std::string body = arr.dump(rng() % 2 ? 2 : -1, ' ', rng() % 2 == 0);
    BatchResponse got = parse_batch(body);
    ASSERT_EQ(got.request_code, 0);
    ASSERT_EQ(got.items.size(), want.size()) << body;
    for (std::size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(got.items[i].code, want[i].code);
      EXPECT_EQ(got.items[i].mobile, want[i].mobile);
      if (want[i].code == 0) {
        EXPECT_EQ(got.items[i].res, want[i].res);
        EXPECT_EQ(got.items[i].area, want[i].area) << body;
        EXPECT_EQ(got.items[i].init_isp, want[i].init_isp);
        EXPECT_EQ(got.items[i].now_isp, want[i].now_isp);
      }
    }
  }
}

TEST(JsonOracle, BalanceAsStringOrNumber) {
  for (long long b : {0LL, 12048LL, -2047LL, 9007199254740993LL}) {
    for (bool as_string : {true, false}) {
      json j = {{"code", 0}, {"reason", "Succ"},
                {"result", {{"feeType", "后付费"}, {"balance", as_string ? json(std::to_string(b)) : json(b)}}}};
      BalanceRecord r = parse_balance(j.dump());
      EXPECT_EQ(r.balance, b);
      EXPECT_EQ(r.fee_type, "后付费");
    }
  }
}

TEST(JsonOracle, RequestBodiesAreTheDocumentedJson) {
  std::vector<std::uint64_t> keys;
  for (int i = 0; i < 1000; ++i) keys.push_back(13000000000ULL + i * 9973ULL);
  json j = json::parse(batch_body("D32652658B074228A2854A78E56880B1", keys.data(), keys.size()));
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j.at("ApiKey"), "D32652658B074228A2854A78E56880B1");
  ASSERT_EQ(j.at("PhoneNumbers").size(), keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i)
    EXPECT_EQ(j["PhoneNumbers"][i].get<std::string>(), key_to_mobile(keys[i]));
  // A key with characters JSON must escape still round-trips.
  json k = json::parse(batch_body("a\"b\\c\x01", keys.data(), 1));
  EXPECT_EQ(k.at("ApiKey"), "a\"b\\c\x01");
}
