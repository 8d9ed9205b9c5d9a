// parse_carrier(), parse_batch(), parse_balance(): every documented shape,
// every failure shape, and broken bodies of every kind.
#include <gtest/gtest.h>

#include <climits>
#include <functional>
#include <string>
#include <vector>

#include "errors.hpp"
#include "json_lenient.hpp"
#include "response.hpp"
#include "../common/utf8_check.hpp"

namespace {

using qxt::BalanceRecord;
using qxt::BatchResponse;
using qxt::CarrierRecord;
using qxt::ErrorKind;
using qxt::parse_balance;
using qxt::parse_batch;
using qxt::parse_batch_salvaging;
using qxt::parse_carrier;
using qxt::QxtError;

// --- helpers ---------------------------------------------------------------

using qxt_test::valid_utf8_without_nul;

void expect_clean(const CarrierRecord& r) {
  for (const std::string* s : {&r.reason, &r.mobile, &r.area, &r.init_isp, &r.now_isp})
    EXPECT_TRUE(valid_utf8_without_nul(*s)) << *s;
}

// Runs f, expects a BadResponse QxtError, returns it.
qxt::Error expect_bad(const std::function<void()>& f, const std::string& body_for_msg) {
  try {
    f();
  } catch (const QxtError& e) {
    const qxt::Error& err = e.error();
    EXPECT_EQ(err.kind, ErrorKind::BadResponse) << body_for_msg;
    EXPECT_EQ(err.sqlstate, "QX103");
    EXPECT_FALSE(err.message.empty());
    EXPECT_FALSE(err.detail.empty());
    EXPECT_FALSE(err.hint.empty());
    EXPECT_TRUE(valid_utf8_without_nul(err.message));
    EXPECT_TRUE(valid_utf8_without_nul(err.detail)) << err.detail;
    // The detail quotes at most ~100 bytes of the body (plus its own words
    // and escapes).
    EXPECT_LT(err.detail.size(), 500u) << err.detail;
    return err;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "unexpected exception " << e.what() << " for " << body_for_msg;
    return {};
  }
  ADD_FAILURE() << "no error for: " << body_for_msg;
  return {};
}

qxt::Error bad_carrier(const std::string& b) { return expect_bad([&] { parse_carrier(b); }, b); }
qxt::Error bad_batch(const std::string& b) { return expect_bad([&] { parse_batch(b); }, b); }
qxt::Error bad_balance(const std::string& b) { return expect_bad([&] { parse_balance(b); }, b); }

bool same(const CarrierRecord& a, const CarrierRecord& b) {
  return a.code == b.code && a.reason == b.reason && a.res == b.res && a.mobile == b.mobile &&
         a.area == b.area && a.init_isp == b.init_isp && a.now_isp == b.now_isp;
}

// --- documented bodies -----------------------------------------------------

const std::string kSingleDoc =
    "{\n  \"code\": 0,\n  \"reason\": \"Succ\",\n  \"result\":\n  {\n    \"res\": \"1\",\n"
    "    \"Mobile\": \"13972565391\",\n    \"Area\": \"湖北-宜昌\",\n"
    "    \"Init_isp\": \"移动\",\n    \"Now_isp\": \"电信\"\n  }\n}\n";

const std::string kSingle2020 =
    "{\n  \"code\": 0,\n  \"reason\": \"Succ\",\n  \"result\": {\n    {\n      \"res\": \"1\",\n"
    "      \"Mobile\": \"13972565391\",\n      \"Area\": \"湖北-宜昌\",\n"
    "      \"Init_isp\": \"移动\",\n      \"Now_isp\": \"电信\"\n    }\n  }\n}";

const std::string kBatchDoc =
    "[\n"
    "{\"code\":0,\"reason\":\"Succ\",\"result\":{\"res\":\"0\",\"Mobile\":\"13798361236\","
    "\"Area\":\"广东-深圳\",\"Init_Isp\":\"移动\",\"Now_Isp\":\"移动\"}},\n"
    "{\"code\":0,\"reason\":\"Succ\",\"result\":{\"res\":\"0\",\"Mobile\":\"13352918995\","
    "\"Area\":\"广东-深圳\",\"Init_Isp\":\"电信\",\"Now_Isp\":\"电信\"}},\n"
    "{\"code\":0,\"reason\":\"Succ\",\"result\":{\"res\":\"0\",\"Mobile\":\"13163320753\","
    "\"Area\":\"湖北-武汉\",\"Init_Isp\":\"联通\",\"Now_Isp\":\"联通\"}}\n"
    "]";

const std::string kBalanceDoc =
    "{\n\"code\": 0,\n\"reason\": \"Succ\",\n\"result\":\n{\n\"feeType\": \"预付费\",\n"
    "\"balance\": \"12048\",\n}\n}";

const std::string kBalanceNegative =
    "{\"code\": 0, \"reason\": \"Succ\", \"result\": {\"feeType\": \"后付费\", \"balance\": \"-2047\"}}";

void expect_doc_single(const CarrierRecord& r) {
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.reason, "Succ");
  EXPECT_EQ(r.res, 1);
  EXPECT_EQ(r.mobile, "13972565391");
  EXPECT_EQ(r.area, "湖北-宜昌");
  EXPECT_EQ(r.init_isp, "移动");
  EXPECT_EQ(r.now_isp, "电信");
}

TEST(ParseCarrier, DocumentedAnswer) { expect_doc_single(parse_carrier(kSingleDoc)); }

TEST(ParseCarrier, Edition2020DoubleBraces) { expect_doc_single(parse_carrier(kSingle2020)); }

TEST(ParseCarrier, DoubleBracesWithTrailingComma) {
  expect_doc_single(parse_carrier(
      "{\"code\":0,\"reason\":\"Succ\",\"result\":{{\"res\":\"1\",\"Mobile\":\"13972565391\","
      "\"Area\":\"湖北-宜昌\",\"Init_isp\":\"移动\",\"Now_isp\":\"电信\",},}}"));
}

TEST(ParseCarrier, CompactAndBatchKeyCasing) {
  expect_doc_single(parse_carrier(
      "{\"code\":0,\"reason\":\"Succ\",\"result\":{\"res\":\"1\",\"Mobile\":\"13972565391\","
      "\"Area\":\"湖北-宜昌\",\"Init_Isp\":\"移动\",\"Now_Isp\":\"电信\"}}"));
}

TEST(ParseCarrier, AnyAsciiCaseOfKeys) {
  expect_doc_single(parse_carrier(
      "{\"CODE\":0,\"Reason\":\"Succ\",\"RESULT\":{\"RES\":\"1\",\"mobile\":\"13972565391\","
      "\"area\":\"湖北-宜昌\",\"init_isp\":\"移动\",\"NOW_ISP\":\"电信\"}}"));
  expect_doc_single(parse_carrier(
      "{\"cOdE\":0,\"reason\":\"Succ\",\"result\":{\"Res\":\"1\",\"MOBILE\":\"13972565391\","
      "\"AREA\":\"湖北-宜昌\",\"INIT_ISP\":\"移动\",\"now_Isp\":\"电信\"}}"));
}

TEST(ParseCarrier, KeysWithEscapesStillMatch) {
  // "Mobile" with an escaped 'M', "code" with an escaped 'c'.
  const auto r = parse_carrier(
      "{\"\\u0063ode\":0,\"result\":{\"res\":1,\"\\u004Dobile\":\"13972565391\"}}");
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.mobile, "13972565391");
}

TEST(ParseCarrier, ResAndCodeAsNumberOrString) {
  struct Case { const char* res; int expected; };
  const Case cases[] = {{"\"0\"", 0}, {"\"1\"", 1}, {"\"3\"", 3}, {"0", 0}, {"1", 1},
                        {"3", 3},     {"\" 1\"", 1}, {"\"1 \"", 1}, {"\"7\"", 7}, {"42", 42},
                        {"999", 999}, {"null", -1},  {"\"\"", -1},  {"\"  \"", -1}, {"\"01\"", 1}};
  for (const auto& c : cases) {
    const std::string body =
        std::string("{\"code\":\"0\",\"reason\":\"Succ\",\"result\":{\"res\":") + c.res +
        ",\"Mobile\":\"13972565391\"}}";
    const auto r = parse_carrier(body);
    EXPECT_EQ(r.res, c.expected) << body;
    EXPECT_EQ(r.code, 0);
  }
  EXPECT_EQ(parse_carrier("{\"code\":\"-4\",\"reason\":\"x\"}").code, -4);
  EXPECT_EQ(parse_carrier("{\"code\":-4}").code, -4);
  EXPECT_EQ(parse_carrier("{\"code\":\" -8 \"}").code, -8);
  EXPECT_EQ(parse_carrier("{\"code\":1}").code, 1);
  EXPECT_EQ(parse_carrier("{\"code\":-2147483648}").code, INT_MIN);
  EXPECT_EQ(parse_carrier("{\"code\":2147483647}").code, INT_MAX);
}

TEST(ParseCarrier, ResAbsentIsMinusOne) {
  const auto r = parse_carrier("{\"code\":0,\"result\":{\"Mobile\":\"13972565391\"}}");
  EXPECT_EQ(r.res, -1);
  EXPECT_EQ(r.reason, "");
  EXPECT_EQ(r.area, "");
}

TEST(ParseCarrier, NullStringsBecomeEmpty) {
  const auto r = parse_carrier(
      "{\"code\":0,\"reason\":null,\"result\":{\"res\":\"0\",\"Mobile\":null,\"Area\":null,"
      "\"Init_isp\":null,\"Now_isp\":null}}");
  EXPECT_EQ(r.reason, "");
  EXPECT_EQ(r.mobile, "");
  EXPECT_EQ(r.area, "");
  EXPECT_EQ(r.init_isp, "");
  EXPECT_EQ(r.now_isp, "");
}

TEST(ParseCarrier, UnknownKeysAreSkipped) {
  const auto r = parse_carrier(
      "{\"extra\":{\"a\":[1,2,{\"b\":null}],\"c\":true},\"code\":0,\"n\":-1.5e+3,"
      "\"result\":{\"x\":[],\"res\":\"1\",\"y\":{},\"Mobile\":\"13972565391\",\"z\":false,"
      "\"Area\":\"湖北-宜昌\",\"Init_isp\":\"移动\",\"Now_isp\":\"电信\",\"w\":\"\\u4e2d\"},"
      "\"reason\":\"Succ\",\"big\":1e999,\"huge\":123456789012345678901234567890}");
  expect_doc_single(r);
}

TEST(ParseCarrier, RepeatedKeyLastWins) {
  EXPECT_EQ(parse_carrier("{\"code\":-4,\"code\":-3}").code, -3);
}

TEST(ParseCarrier, BomAndWhitespace) {
  expect_doc_single(parse_carrier("\xEF\xBB\xBF" + kSingleDoc));
  expect_doc_single(parse_carrier("\r\n\t  " + kSingleDoc + "\r\n\t  "));
}

TEST(ParseCarrier, FailureShapes) {
  auto r = parse_carrier("{\"code\":-4,\"reason\":\"未查询到相关信息\"}");
  EXPECT_EQ(r.code, -4);
  EXPECT_EQ(r.reason, "未查询到相关信息");
  EXPECT_EQ(r.res, -1);
  EXPECT_EQ(r.mobile, "");

  r = parse_carrier("{\"code\":-4,\"reason\":\"x\",\"result\":{\"Mobile\":\"13972565391\"}}");
  EXPECT_EQ(r.code, -4);
  EXPECT_EQ(r.mobile, "13972565391");

  for (const char* result : {"null", "{}", "[]", "\"\"", "\"no data\"", "0", "[1,2]"}) {
    const std::string body = std::string("{\"code\":-3,\"reason\":\"bad\",\"result\":") + result + "}";
    r = parse_carrier(body);
    EXPECT_EQ(r.code, -3) << body;
    EXPECT_EQ(r.mobile, "") << body;
  }
  // The code may come after the result.
  r = parse_carrier("{\"result\":null,\"reason\":\"x\",\"code\":-1}");
  EXPECT_EQ(r.code, -1);
}

TEST(ParseCarrier, StringEscapes) {
  const auto r = parse_carrier(
      "{\"code\":0,\"reason\":\"a\\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti\","
      "\"result\":{\"res\":1,\"Area\":\"\\u6e56\\u5317-\\u5B9C\\u660C\","
      "\"Init_isp\":\"\\ud83d\\ude00\",\"Now_isp\":\"\\u00e9\\u0041\"}}");
  EXPECT_EQ(r.reason, "a\"b\\c/d\be\ff\ng\rh\ti");
  EXPECT_EQ(r.area, "湖北-宜昌");
  EXPECT_EQ(r.init_isp, "\xF0\x9F\x98\x80");  // U+1F600 from a surrogate pair
  EXPECT_EQ(r.now_isp, "\xC3\xA9" "A");
}

TEST(ParseCarrier, LoneSurrogatesAndNulBecomeReplacementChar) {
  const std::string fffd = "\xEF\xBF\xBD";
  auto r = parse_carrier("{\"code\":-4,\"reason\":\"\\ud83dx\"}");
  EXPECT_EQ(r.reason, fffd + "x");
  r = parse_carrier("{\"code\":-4,\"reason\":\"\\ude00\"}");
  EXPECT_EQ(r.reason, fffd);
  r = parse_carrier("{\"code\":-4,\"reason\":\"\\ud83d\\u0041\"}");
  EXPECT_EQ(r.reason, fffd + "A");
  r = parse_carrier("{\"code\":-4,\"reason\":\"\\ud83d\\ud83d\\ude00\"}");
  EXPECT_EQ(r.reason, fffd + "\xF0\x9F\x98\x80");
  r = parse_carrier("{\"code\":-4,\"reason\":\"a\\u0000b\"}");
  EXPECT_EQ(r.reason, "a" + fffd + "b");
  expect_clean(r);
}

TEST(ParseCarrier, InvalidUtf8InStringsIsReplaced) {
  const std::string fffd = "\xEF\xBF\xBD";
  struct Case { std::string raw; std::string expected; };
  const Case cases[] = {
      {"\xFF", fffd},
      {"a\x80" "b", "a" + fffd + "b"},
      {"\xC0\x80", fffd + fffd},                // overlong NUL
      {"\xE0\x80\x80", fffd + fffd + fffd},      // overlong
      {"\xED\xA0\x80", fffd + fffd + fffd},      // UTF-8-encoded surrogate
      {"\xF4\x90\x80\x80", fffd + fffd + fffd + fffd},  // above U+10FFFF
      {"\xE6\xB9" "x", fffd + fffd + "x"},       // cut sequence
      {"\xB9\xE5\x8C\x97", fffd + "北"},          // stray continuation, then valid
      {"\xC4\xA3", "\xC4\xA3"},                  // valid 2-byte
  };
  for (const auto& c : cases) {
    const auto r = parse_carrier("{\"code\":-4,\"reason\":\"" + c.raw + "\"}");
    EXPECT_EQ(r.reason, c.expected);
    expect_clean(r);
  }
}

// --- batch -----------------------------------------------------------------

TEST(ParseBatch, DocumentedAnswer) {
  const BatchResponse b = parse_batch(kBatchDoc);
  EXPECT_EQ(b.request_code, 0);
  ASSERT_EQ(b.items.size(), 3u);
  EXPECT_EQ(b.items[0].mobile, "13798361236");
  EXPECT_EQ(b.items[0].area, "广东-深圳");
  EXPECT_EQ(b.items[0].init_isp, "移动");
  EXPECT_EQ(b.items[0].now_isp, "移动");
  EXPECT_EQ(b.items[0].res, 0);
  EXPECT_EQ(b.items[1].mobile, "13352918995");
  EXPECT_EQ(b.items[1].init_isp, "电信");
  EXPECT_EQ(b.items[2].mobile, "13163320753");
  EXPECT_EQ(b.items[2].area, "湖北-武汉");
  EXPECT_EQ(b.items[2].now_isp, "联通");
  for (const auto& it : b.items) {
    EXPECT_EQ(it.code, 0);
    EXPECT_EQ(it.reason, "Succ");
  }
}

TEST(ParseBatch, TrailingCommaBomSingleKeyCasing) {
  const BatchResponse b = parse_batch(
      "\xEF\xBB\xBF [{\"code\":0,\"reason\":\"Succ\",\"result\":{\"res\":1,\"Mobile\":\"13972565391\","
      "\"Area\":\"湖北-宜昌\",\"Init_isp\":\"移动\",\"Now_isp\":\"电信\",},},] ");
  ASSERT_EQ(b.items.size(), 1u);
  expect_doc_single(b.items[0]);
}

TEST(ParseBatch, DoubleBracedElements) {
  const BatchResponse b = parse_batch(
      "[{{\"code\":0,\"reason\":\"Succ\",\"result\":{{\"res\":\"1\",\"Mobile\":\"13972565391\"}}}}]");
  ASSERT_EQ(b.items.size(), 1u);
  EXPECT_EQ(b.items[0].res, 1);
  EXPECT_EQ(b.items[0].mobile, "13972565391");
}

TEST(ParseBatch, RequestLevelFailure) {
  for (int code : {-1, -5, -6, -7, -8, -9, -10, 1}) {
    const std::string body =
        "{\"code\":" + std::to_string(code) + ",\"reason\":\"请求超出最大 1000 个号码总数\"}";
    const BatchResponse b = parse_batch(body);
    EXPECT_EQ(b.request_code, code);
    EXPECT_EQ(b.request_reason, "请求超出最大 1000 个号码总数");
    EXPECT_TRUE(b.items.empty());
  }
  const BatchResponse b = parse_batch("{\"code\":\"-9\",\"reason\":\"JSON 格式错误\",\"result\":null}");
  EXPECT_EQ(b.request_code, -9);
}

TEST(ParseBatch, PerNumberFailureElements) {
  const BatchResponse b = parse_batch(
      "[{\"code\":0,\"reason\":\"Succ\",\"result\":{\"res\":\"1\",\"Mobile\":\"13972565391\","
      "\"Area\":\"湖北-宜昌\",\"Init_Isp\":\"移动\",\"Now_Isp\":\"电信\"}},"
      "{\"code\":-4,\"reason\":\"未查询到相关信息\",\"result\":{\"Mobile\":\"13000000000\"}},"
      "{\"code\":-3,\"reason\":\"请填写正确的手机号码\"},"
      "{\"code\":\"-8\",\"reason\":\"系统错误\",\"result\":null},"
      "{\"code\":-2,\"reason\":\"x\",\"result\":[]}]");
  EXPECT_EQ(b.request_code, 0);
  ASSERT_EQ(b.items.size(), 5u);
  expect_doc_single(b.items[0]);
  EXPECT_EQ(b.items[1].code, -4);
  EXPECT_EQ(b.items[1].mobile, "13000000000");
  EXPECT_EQ(b.items[1].res, -1);
  EXPECT_EQ(b.items[2].code, -3);
  EXPECT_EQ(b.items[2].mobile, "");
  EXPECT_EQ(b.items[3].code, -8);
  EXPECT_EQ(b.items[4].code, -2);
}

TEST(ParseBatch, EmptyArray) {
  const BatchResponse b = parse_batch("[]");
  EXPECT_EQ(b.request_code, 0);
  EXPECT_TRUE(b.items.empty());
}

TEST(ParseBatch, LargeAnswer) {
  std::string body = "[";
  for (int i = 0; i < 1000; ++i) {
    if (i) body += ",";
    body += "{\"code\":0,\"reason\":\"Succ\",\"result\":{\"res\":\"0\",\"Mobile\":\"139" +
            std::to_string(10000000 + i) + "\",\"Area\":\"广东-深圳\",\"Init_Isp\":\"移动\","
            "\"Now_Isp\":\"移动\"}}";
  }
  body += "]";
  const BatchResponse b = parse_batch(body);
  ASSERT_EQ(b.items.size(), 1000u);
  EXPECT_EQ(b.items[999].mobile, "13910000999");
}

TEST(ParseBatch, WrongShapes) {
  auto e = bad_batch("{\"code\":0,\"reason\":\"Succ\",\"result\":{\"res\":\"1\"}}");
  EXPECT_NE(e.message.find("array"), std::string::npos) << e.message;
  bad_batch("{\"code\":0,\"reason\":\"Succ\",\"result\":[]}");
  bad_batch("{\"reason\":\"no code\"}");
  bad_batch("[1,2,3]");
  bad_batch("[null]");
  bad_batch("[[]]");
  bad_batch("[\"13972565391\"]");
  bad_batch("\"x\"");
  bad_batch("42");
  bad_batch("null");
  bad_batch("true");
  e = bad_batch("[{\"code\":0,\"result\":{\"res\":\"0\"}},{\"code\":0,\"reason\":\"Succ\"}]");
  EXPECT_NE(e.message.find("element 1"), std::string::npos) << e.message;
  e = bad_batch("[{\"code\":0,\"result\":{\"res\":\"0\"}},{\"reason\":\"Succ\"}]");
  EXPECT_NE(e.message.find("element 1"), std::string::npos) << e.message;
  bad_batch("[{\"code\":0,\"result\":{\"res\":\"0\"}}] []");
  bad_batch("[{\"code\":0,\"result\":{\"res\":\"0\"}},,]");
  bad_batch("[,{\"code\":0,\"result\":{\"res\":\"0\"}}]");
  bad_batch("[{\"code\":0,\"result\":{\"res\":\"0\"}} {\"code\":0,\"result\":{\"res\":\"0\"}}]");
}

// parse_batch_salvaging: an element that is valid JSON but not the
// documented shape is marked unreadable and the others are read; the body
// must still be valid JSON as a whole.
TEST(ParseBatch, SalvagingMarksOddElementsAndReadsTheOthers) {
  const std::string ok =
      R"({"code":0,"reason":"Succ","result":{"res":"1","Mobile":"13972565397","Area":"a","Init_Isp":"b","Now_Isp":"c"}})";
  for (const char* odd : {"null", "[]", "\"13972565391\"", "{\"reason\":\"no code\"}",
                          "{\"code\":0,\"reason\":\"Succ\"}",
                          "{\"code\":-4,\"result\":{\"res\":\"-1\",\"Mobile\":\"13972565391\"}}",
                          "{\"code\":-4,\"result\":{\"Mobile\":13972565391}}",
                          "{\"code\":0,\"result\":{\"res\":\"x\",\"Area\":{\"deep\":[1,{}]}}}"}) {
    SCOPED_TRACE(odd);
    const std::string body = "[" + ok + "," + odd + "," + ok + "]";
    EXPECT_THROW(parse_batch(body), QxtError) << "parse_batch stays strict";
    const BatchResponse b = parse_batch_salvaging(body);
    ASSERT_EQ(b.items.size(), 3u);
    EXPECT_EQ(b.unreadable, 1u);
    EXPECT_EQ(b.first_unreadable.kind, ErrorKind::BadResponse);
    EXPECT_NE(b.first_unreadable.message.find("is not in the documented form"), std::string::npos)
        << b.first_unreadable.message;
    EXPECT_FALSE(b.items[0].unreadable);
    EXPECT_TRUE(b.items[1].unreadable);
    EXPECT_TRUE(b.items[1].mobile.empty()) << "nothing of an odd element is kept";
    EXPECT_FALSE(b.items[2].unreadable);
    EXPECT_EQ(b.items[2].mobile, "13972565397");
    EXPECT_EQ(b.items[2].res, 1);
  }
  // Not JSON, anywhere: the whole answer is refused.
  for (const char* broken : {"[{\"code\":0,\"result\":{\"res\":\"x\"}} {}]",
                             "[{\"code\":0,\"result\":{\"res\":\"x\",}}, {\"code\":]",
                             "[null, {\"code\":0,\"result\":{\"res\":\"0\"}"}) {
    SCOPED_TRACE(broken);
    EXPECT_THROW(parse_batch_salvaging(broken), QxtError);
  }
}

// --- balance ---------------------------------------------------------------

TEST(ParseBalance, DocumentedAnswerWithTrailingComma) {
  const BalanceRecord b = parse_balance(kBalanceDoc);
  EXPECT_EQ(b.code, 0);
  EXPECT_EQ(b.reason, "Succ");
  EXPECT_EQ(b.fee_type, "预付费");
  EXPECT_EQ(b.balance, 12048);
}

TEST(ParseBalance, NegativeAndNumericAndLimits) {
  EXPECT_EQ(parse_balance(kBalanceNegative).balance, -2047);
  EXPECT_EQ(parse_balance(kBalanceNegative).fee_type, "后付费");
  const auto with = [](const std::string& v) {
    return "{\"code\":0,\"reason\":\"Succ\",\"result\":{\"feeType\":\"预付费\",\"balance\":" + v + "}}";
  };
  EXPECT_EQ(parse_balance(with("12048")).balance, 12048);
  EXPECT_EQ(parse_balance(with("-2047")).balance, -2047);
  EXPECT_EQ(parse_balance(with("0")).balance, 0);
  EXPECT_EQ(parse_balance(with("\" 12048 \"")).balance, 12048);
  EXPECT_EQ(parse_balance(with("\"9223372036854775807\"")).balance, LLONG_MAX);
  EXPECT_EQ(parse_balance(with("-9223372036854775808")).balance, LLONG_MIN);
  bad_balance(with("\"9223372036854775808\""));
  bad_balance(with("-9223372036854775809"));
  bad_balance(with("99999999999999999999999999"));
  bad_balance(with("1e3"));
  bad_balance(with("12.5"));
  bad_balance(with("\"12.5\""));
  bad_balance(with("\"12048abc\""));
  bad_balance(with("\"+12048\""));
  bad_balance(with("\"-\""));
  bad_balance(with("\"- 1\""));
  bad_balance(with("true"));
  bad_balance(with("{}"));
  bad_balance(with("[12048]"));
  bad_balance(with("null"));   // code 0 needs a balance
  bad_balance(with("\"\""));
}

TEST(ParseBalance, KeyCaseAndDoubleBraces) {
  const BalanceRecord b = parse_balance(
      "{\"CODE\":\"0\",\"REASON\":\"Succ\",\"Result\":{{\"FEETYPE\":\"后付费\",\"Balance\":\"-5\"}}}");
  EXPECT_EQ(b.fee_type, "后付费");
  EXPECT_EQ(b.balance, -5);
  EXPECT_EQ(parse_balance("{\"code\":0,\"result\":{\"feetype\":null,\"balance\":1}}").fee_type, "");
}

TEST(ParseBalance, FailureShapes) {
  BalanceRecord b = parse_balance("{\"code\":-1,\"reason\":\"apikey 不正确\"}");
  EXPECT_EQ(b.code, -1);
  EXPECT_EQ(b.reason, "apikey 不正确");
  EXPECT_EQ(b.balance, 0);
  b = parse_balance("{\"code\":-6,\"reason\":\"x\",\"result\":null}");
  EXPECT_EQ(b.code, -6);
  b = parse_balance("{\"code\":-9,\"reason\":\"ip 地址鉴权失败\",\"result\":[]}");
  EXPECT_EQ(b.code, -9);
}

TEST(ParseBalance, WrongShapes) {
  bad_balance("{\"reason\":\"Succ\",\"result\":{\"balance\":\"1\"}}");
  bad_balance("{\"code\":0,\"reason\":\"Succ\"}");
  bad_balance("{\"code\":0,\"reason\":\"Succ\",\"result\":null}");
  bad_balance("{\"code\":0,\"reason\":\"Succ\",\"result\":{\"feeType\":\"预付费\"}}");
  bad_balance("{\"code\":0,\"reason\":\"Succ\",\"result\":{\"feeType\":1,\"balance\":1}}");
  bad_balance("[{\"code\":0}]");
  bad_balance("12048");
}

// --- broken bodies ---------------------------------------------------------

TEST(BrokenBodies, EmptyAndWhitespace) {
  for (const std::string& b : {std::string(), std::string(" "), std::string("\r\n\t "),
                               std::string("\xEF\xBB\xBF"), std::string("\xEF\xBB\xBF  ")}) {
    auto e = bad_carrier(b);
    EXPECT_NE(e.message.find("empty"), std::string::npos) << e.message;
    bad_batch(b);
    bad_balance(b);
  }
}

TEST(BrokenBodies, Html) {
  for (const std::string& b :
       {std::string("<html><body><h1>502 Bad Gateway</h1></body></html>"),
        std::string("<!DOCTYPE html>\n<html>..."), std::string("\n  <?xml version=\"1.0\"?><a/>")}) {
    auto e = bad_carrier(b);
    EXPECT_NE(e.message.find("HTML"), std::string::npos) << e.message;
    EXPECT_NE(e.detail.find("<"), std::string::npos) << e.detail;
    bad_batch(b);
    bad_balance(b);
  }
}

TEST(BrokenBodies, NotJsonAtAll) {
  for (const char* b : {"Succ", "code=0&reason=Succ", "{code: 0, reason: \"Succ\"}",
                        "{'code': 0}", "{\"code\" 0}", "{\"code\":0 \"reason\":\"x\"}",
                        "{\"code\":0,,\"reason\":\"x\"}", "{,\"code\":0}", "{\"code\":-}",
                        "{\"code\":01}", "{\"code\":+1}", "{\"code\":.5}", "{\"code\":1.}",
                        "{\"code\":1e}", "{\"code\":nul}", "{\"code\":-4,\"reason\":tru}",
                        "{\"code\":-4} {\"code\":-4}", "{\"code\":-4}x", "{\"code\":-4}]",
                        "{\"code\":-4,\"reason\":\"a\tb\"}", "{\"code\":-4,\"reason\":\"a\nb\"}",
                        "{\"code\":-4,\"reason\":\"\\x41\"}", "{\"code\":-4,\"reason\":\"\\u12G4\"}",
                        "{\"code\":-4,\"reason\":\"\\u12\"}", "{\"code\":-4,\"reason\":\"\\U0041\"}",
                        "{\"code\":-4,\"reason\":\"\\'\"}", "{\"code\":-4,\"\xE4\xB8\xAD\":1,}x",
                        "{\"code\":-4,\"reason\":\"x\"\xC2\xA0}", "\xEF\xBB\xBF\xEF\xBB\xBF{\"code\":-4}",
                        "{\"code\":-4,\"result\":{ {\"Mobile\":\"1\"}, \"x\":1 }}",
                        "{{\"code\":-4} {\"code\":-4}}", "{\"code\":-4\0}"}) {
    bad_carrier(b);
  }
  // An embedded NUL.
  bad_carrier(std::string("{\"code\":-4}\0", 12));
  bad_carrier(std::string("{\"code\":-4,\"reason\":\"a\0b\"}", 25));
}

TEST(BrokenBodies, TopLevelScalarsAndWrongContainers) {
  for (const char* b : {"0", "-4", "\"Succ\"", "null", "true", "false", "[]", "[{\"code\":0}]"}) {
    bad_carrier(b);
    bad_balance(b);
  }
}

TEST(BrokenBodies, WrongTypes) {
  for (const char* b : {
           "{\"code\":true}", "{\"code\":null}", "{\"code\":\"\"}", "{\"code\":{}}",
           "{\"code\":[0]}", "{\"code\":\"zero\"}", "{\"code\":\"+1\"}", "{\"code\":1.0}",
           "{\"code\":\"1.0\"}", "{\"code\":1e2}", "{\"code\":\"0x10\"}",
           "{\"code\":-4,\"reason\":5}", "{\"code\":-4,\"reason\":[]}",
           "{\"code\":-4,\"reason\":{}}", "{\"code\":-4,\"reason\":false}",
           "{\"code\":0,\"result\":5}", "{\"code\":0,\"result\":\"\"}",
           "{\"code\":0,\"result\":[]}", "{\"code\":0,\"result\":null}", "{\"code\":0}",
           "{\"code\":0,\"result\":{\"res\":\"x\"}}", "{\"code\":0,\"result\":{\"res\":\"1.5\"}}",
           "{\"code\":0,\"result\":{\"res\":true}}", "{\"code\":0,\"result\":{\"res\":[1]}}",
           "{\"code\":0,\"result\":{\"res\":-1}}", "{\"code\":0,\"result\":{\"res\":1000}}",
           "{\"code\":0,\"result\":{\"res\":\"99999999999999999999\"}}",
           "{\"code\":0,\"result\":{\"Mobile\":13972565391}}",
           "{\"code\":0,\"result\":{\"Area\":[\"湖北\"]}}",
           "{\"code\":0,\"result\":{\"Init_isp\":1}}", "{\"code\":0,\"result\":{\"Now_isp\":{}}}",
           "{\"reason\":\"Succ\",\"result\":{\"res\":\"1\"}}"}) {
    bad_carrier(b);
  }
}

TEST(BrokenBodies, HugeNumbers) {
  auto e = bad_carrier("{\"code\":99999999999999999999}");
  EXPECT_NE(e.message.find("out of range"), std::string::npos) << e.message;
  bad_carrier("{\"code\":2147483648}");
  bad_carrier("{\"code\":-2147483649}");
  bad_carrier("{\"code\":\"-99999999999999999999999999999999\"}");
  bad_carrier("{\"code\":1e999}");
  bad_carrier("{\"code\":-0.0}");
}

TEST(BrokenBodies, DeepNesting) {
  const auto nest = [](int depth) {
    std::string s = "{\"code\":-4,\"x\":";
    for (int i = 0; i < depth; ++i) s += "[";
    for (int i = 0; i < depth; ++i) s += "]";
    return s + "}";
  };
  EXPECT_EQ(parse_carrier(nest(31)).code, -4);  // 32 levels with the outer object
  auto e = bad_carrier(nest(32));
  EXPECT_NE(e.message.find("nested deeper"), std::string::npos) << e.message;
  bad_carrier(nest(100000));
  bad_carrier(std::string(100000, '['));
  bad_batch(std::string(100000, '['));
  std::string objs;
  for (int i = 0; i < 50000; ++i) objs += "{\"a\":";
  bad_carrier(objs);
  bad_balance(std::string(50000, '{'));  // also the "double brace" path
}

// Every prefix of a valid body either parses to the same result (only when
// what was cut is trailing whitespace) or throws QxtError; never anything else.
TEST(BrokenBodies, EveryTruncationIsCaught) {
  const std::vector<std::string> carriers = {
      kSingleDoc, kSingle2020, "\xEF\xBB\xBF" + kSingleDoc,
      "{\"code\":0,\"reason\":\"\\u6e56\\ud83d\\ude00\",\"result\":{\"res\":1,\"x\":[1.5e-3,true,"
      "false,null,{}],\"Mobile\":\"13972565391\"},}"};
  for (const std::string& full : carriers) {
    const CarrierRecord whole = parse_carrier(full);
    for (std::size_t n = 0; n < full.size(); ++n) {
      const std::string cut = full.substr(0, n);
      try {
        const CarrierRecord r = parse_carrier(cut);
        EXPECT_TRUE(same(r, whole)) << "prefix " << n;
        EXPECT_EQ(cut.find_last_not_of(" \r\n\t"), full.find_last_not_of(" \r\n\t"));
      } catch (const QxtError& e) {
        EXPECT_EQ(e.error().kind, ErrorKind::BadResponse);
        EXPECT_FALSE(e.error().message.empty());
      } catch (...) {
        ADD_FAILURE() << "unexpected exception type at prefix " << n;
      }
    }
  }
  const BatchResponse whole = parse_batch(kBatchDoc);
  for (std::size_t n = 0; n < kBatchDoc.size(); ++n) {
    try {
      const BatchResponse b = parse_batch(kBatchDoc.substr(0, n));
      ASSERT_EQ(b.items.size(), whole.items.size()) << "prefix " << n;
      for (std::size_t i = 0; i < b.items.size(); ++i) EXPECT_TRUE(same(b.items[i], whole.items[i]));
    } catch (const QxtError& e) {
      EXPECT_EQ(e.error().kind, ErrorKind::BadResponse);
    } catch (...) {
      ADD_FAILURE() << "unexpected exception type at prefix " << n;
    }
  }
  for (const std::string& full : {kBalanceDoc, kBalanceNegative}) {
    const BalanceRecord whole_b = parse_balance(full);
    for (std::size_t n = 0; n < full.size(); ++n) {
      try {
        const BalanceRecord b = parse_balance(full.substr(0, n));
        EXPECT_EQ(b.balance, whole_b.balance) << "prefix " << n;
        EXPECT_EQ(b.fee_type, whole_b.fee_type);
      } catch (const QxtError& e) {
        EXPECT_EQ(e.error().kind, ErrorKind::BadResponse);
      } catch (...) {
        ADD_FAILURE() << "unexpected exception type at prefix " << n;
      }
    }
  }
}

TEST(BrokenBodies, TruncationMessageSaysSo) {
  auto e = bad_carrier(kSingleDoc.substr(0, kSingleDoc.size() / 2));
  EXPECT_NE(e.message.find("truncated"), std::string::npos) << e.message;
  e = bad_carrier("{\"code\":-4,\"reason\":\"abc");
  EXPECT_NE(e.message.find("truncated"), std::string::npos) << e.message;
  // Cut in the middle of a multi-byte character.
  e = bad_carrier("{\"code\":-4,\"reason\":\"\xE6\xB9");
  EXPECT_NE(e.message.find("truncated"), std::string::npos) << e.message;
}

TEST(BrokenBodies, DetailQuotesAtMostTheFirstHundredBytesSanitised) {
  std::string body = "{\"code\":-4,\"reason\":\"";
  body += std::string(5000, 'x');
  body += "\"";  // truncated: no closing brace
  auto e = bad_carrier(body);
  EXPECT_LT(e.detail.size(), 200u) << e.detail;
  EXPECT_NE(e.detail.find("..."), std::string::npos);
  EXPECT_EQ(e.detail.find(std::string(101, 'x')), std::string::npos);

  e = bad_carrier("\x01\x02\xFF{\"code\"\n:\t}");
  EXPECT_NE(e.detail.find("\\x01\\x02\\xFF"), std::string::npos) << e.detail;
  EXPECT_NE(e.detail.find("\\n"), std::string::npos) << e.detail;
  EXPECT_NE(e.detail.find("\\t"), std::string::npos) << e.detail;
  EXPECT_EQ(e.detail.find('\n'), std::string::npos);
}

TEST(QuoteExcerpt, Sanitising) {
  using qxt::json_lenient::quote_excerpt;
  EXPECT_EQ(quote_excerpt("abc"), "abc");
  EXPECT_EQ(quote_excerpt("a\r\n\t\x7F\x00z", 100), "a\\r\\n\\t\\x7F");  // "\x00z" cut by C string
  EXPECT_EQ(quote_excerpt(std::string("a\0z", 3)), "a\\x00z");
  EXPECT_EQ(quote_excerpt("湖北"), "湖北");
  EXPECT_EQ(quote_excerpt("\xE6\xB9"), "\\xE6\\xB9");
  // A character crossing the limit is escaped, not cut in half.
  EXPECT_EQ(quote_excerpt("ab湖", 4), "ab\\xE6\\xB9...");
  EXPECT_EQ(quote_excerpt(std::string(150, 'y')), std::string(100, 'y') + "...");
  EXPECT_TRUE(valid_utf8_without_nul(quote_excerpt("\xED\xA0\x80\xC0\x80\xF4\x90\x80\x80")));
}

TEST(BrokenBodies, MessagesAreSpecific) {
  auto e = bad_carrier("{\"code\":-4,\"reason\":\"\\q\"}");
  EXPECT_NE(e.message.find("escape"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("/carrier"), std::string::npos) << e.message;
  e = bad_batch("{\"code\":\"abc\"}");
  EXPECT_NE(e.message.find("'code'"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("/carrier_batch"), std::string::npos) << e.message;
  e = bad_balance("{\"code\":0,\"result\":{\"feeType\":\"x\"}}");
  EXPECT_NE(e.message.find("'balance'"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("/balance"), std::string::npos) << e.message;
  e = bad_carrier("{\"code\":0,\"reason\":\"Succ\"}");
  EXPECT_NE(e.message.find("result"), std::string::npos) << e.message;
}

}  // namespace
