// errors.hpp: the SQLSTATE table, vendor codes per endpoint, and the texts a
// user reads.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "errors.hpp"

namespace {

using qxt::Endpoint;
using qxt::Error;
using qxt::ErrorKind;

const std::vector<ErrorKind> kAllKinds = {
    ErrorKind::InvalidNumber,    ErrorKind::NoApiKey,        ErrorKind::KeyRejected,
    ErrorKind::NotFound,         ErrorKind::BalanceExhausted, ErrorKind::AccountDisabled,
    ErrorKind::VendorSystemError, ErrorKind::VendorRejected, ErrorKind::ConnectFailed,
    ErrorKind::TlsFailure,       ErrorKind::ConnectionLost,  ErrorKind::Timeout,
    ErrorKind::HttpStatus,       ErrorKind::BadResponse,     ErrorKind::ResponseTooLarge,
    ErrorKind::BatchMismatch,    ErrorKind::Cancelled,       ErrorKind::Internal,
    ErrorKind::ResourceExhausted, ErrorKind::StatementBudget, ErrorKind::DailyBudget,
    ErrorKind::NotPreloaded,
};

const std::vector<Endpoint> kEndpoints = {Endpoint::Carrier, Endpoint::CarrierBatch,
                                          Endpoint::Balance};

// Every documented vendor code but 0, plus undocumented ones.
const std::vector<int> kVendorCodes = {1, -1, -2, -3, -4, -5, -6, -7, -8, -9, -10, 2, -11, 99, -999};

bool is_sqlstate(const std::string& s) {
  if (s.size() != 5) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z'))) return false;
  return true;
}

TEST(SqlState, ExactTable) {
  EXPECT_STREQ(qxt::sqlstate_of(ErrorKind::InvalidNumber), "22023");
  EXPECT_STREQ(qxt::sqlstate_of(ErrorKind::NoApiKey), "28000");
  EXPECT_STREQ(qxt::sqlstate_of(ErrorKind::KeyRejected), "28000");
  EXPECT_STREQ(qxt::sqlstate_of(ErrorKind::NotFound), "QX004");
  EXPECT_STREQ(qxt::sqlstate_of(ErrorKind::BalanceExhausted), "QX005");
  EXPECT_STREQ(qxt::sqlstate_of(ErrorKind::AccountDisabled), "QX006");
  EXPECT_STREQ(qxt::sqlstate_of(ErrorKind::VendorSystemError), "QX008");
  EXPECT_STREQ(qxt::sqlstate_of(ErrorKind::VendorRejected), "QX001");
  EXPECT_STREQ(qxt::sqlstate_of(ErrorKind::ConnectFailed), "08001");
  EXPECT_STREQ(qxt::sqlstate_of(ErrorKind::TlsFailure), "08001");
  EXPECT_STREQ(qxt::sqlstate_of(ErrorKind::ConnectionLost), "08006");
  EXPECT_STREQ(qxt::sqlstate_of(ErrorKind::Timeout), "QX101");
  EXPECT_STREQ(qxt::sqlstate_of(ErrorKind::HttpStatus), "QX102");
  EXPECT_STREQ(qxt::sqlstate_of(ErrorKind::ResourceExhausted), "53000");
  EXPECT_STREQ(qxt::sqlstate_of(ErrorKind::BadResponse), "QX103");
  EXPECT_STREQ(qxt::sqlstate_of(ErrorKind::ResponseTooLarge), "QX104");
  EXPECT_STREQ(qxt::sqlstate_of(ErrorKind::BatchMismatch), "QX105");
  EXPECT_STREQ(qxt::sqlstate_of(ErrorKind::Cancelled), "57014");
  EXPECT_STREQ(qxt::sqlstate_of(ErrorKind::Internal), "XX000");
  EXPECT_STREQ(qxt::sqlstate_of(ErrorKind::StatementBudget), "QX201");
  EXPECT_STREQ(qxt::sqlstate_of(ErrorKind::DailyBudget), "QX202");
  EXPECT_STREQ(qxt::sqlstate_of(ErrorKind::NotPreloaded), "55000");
}

TEST(SqlState, EveryKindIsWellFormed) {
  for (ErrorKind k : kAllKinds) EXPECT_TRUE(is_sqlstate(qxt::sqlstate_of(k)));
  // Out-of-range enum value: falls back to internal error, never null.
  EXPECT_STREQ(qxt::sqlstate_of(static_cast<ErrorKind>(9999)), "XX000");
}

TEST(SqlState, OwnCodesDoNotCollideAcrossKinds) {
  // Only the documented pairs share a SQLSTATE.
  std::multiset<std::string> seen;
  for (ErrorKind k : kAllKinds) seen.insert(qxt::sqlstate_of(k));
  for (const auto& s : seen) {
    const auto n = seen.count(s);
    if (s == "28000" || s == "08001") EXPECT_EQ(n, 2u) << s;
    else EXPECT_EQ(n, 1u) << s;
  }
}

TEST(MakeError, FillsEverything) {
  const Error e = qxt::make_error(ErrorKind::Timeout, "msg", "det", "hint");
  EXPECT_EQ(e.kind, ErrorKind::Timeout);
  EXPECT_EQ(e.sqlstate, "QX101");
  EXPECT_EQ(e.message, "msg");
  EXPECT_EQ(e.detail, "det");
  EXPECT_EQ(e.hint, "hint");
  for (ErrorKind k : kAllKinds) EXPECT_EQ(qxt::make_error(k, "m").sqlstate, qxt::sqlstate_of(k));
}

TEST(QxtErrorType, CarriesTheError) {
  try {
    throw qxt::QxtError(qxt::make_error(ErrorKind::BadResponse, "bad body", "d", "h"));
  } catch (const std::exception& ex) {
    EXPECT_STREQ(ex.what(), "bad body");
    const auto* q = dynamic_cast<const qxt::QxtError*>(&ex);
    ASSERT_NE(q, nullptr);
    EXPECT_EQ(q->error().sqlstate, "QX103");
  }
}

TEST(EndpointPath, Paths) {
  EXPECT_STREQ(qxt::endpoint_path(Endpoint::Carrier), "/carrier");
  EXPECT_STREQ(qxt::endpoint_path(Endpoint::CarrierBatch), "/carrier_batch");
  EXPECT_STREQ(qxt::endpoint_path(Endpoint::Balance), "/balance");
}

// The kind each vendor code maps to, whatever the endpoint (-9 with a reason
// about the IP address is the exception, tested separately).  Code 1 is
// VendorRejected: numbers are checked before they are sent, so it means the
// key or a parameter, not the number.
ErrorKind expected_kind(int code) {
  switch (code) {
    case -1: return ErrorKind::KeyRejected;
    case -2: case -3: return ErrorKind::InvalidNumber;
    case -4: return ErrorKind::NotFound;
    case -5: return ErrorKind::BalanceExhausted;
    case -6: return ErrorKind::AccountDisabled;
    case -8: return ErrorKind::VendorSystemError;
    default: return ErrorKind::VendorRejected;  // 1, -7, -9 (JSON), -10, unknown
  }
}

TEST(VendorError, EveryCodeOnEveryEndpoint) {
  for (Endpoint ep : kEndpoints) {
    for (int code : kVendorCodes) {
      for (const char* mobile : {"", "13972565391"}) {
        const Error e = qxt::vendor_error(ep, code, "some reason", mobile);
        const std::string ctx = std::string(qxt::endpoint_path(ep)) + " code " +
                                std::to_string(code) + " mobile '" + mobile + "'";
        EXPECT_EQ(e.kind, expected_kind(code)) << ctx;
        EXPECT_EQ(e.sqlstate, qxt::sqlstate_of(e.kind)) << ctx;
        // A user needs all three: what happened, the vendor's words, what to do.
        EXPECT_FALSE(e.message.empty()) << ctx;
        EXPECT_FALSE(e.detail.empty()) << ctx;
        EXPECT_FALSE(e.hint.empty()) << ctx;
        // DETAIL carries the vendor's code, reason and the endpoint.
        EXPECT_NE(e.detail.find(std::to_string(code)), std::string::npos) << e.detail;
        EXPECT_NE(e.detail.find("some reason"), std::string::npos) << e.detail;
        EXPECT_NE(e.detail.find(qxt::endpoint_path(ep)), std::string::npos) << e.detail;
        // Messages start lower-case and carry no trailing period (PostgreSQL style).
        EXPECT_FALSE(e.message.back() == '.') << e.message;
        EXPECT_FALSE(e.message.front() >= 'A' && e.message.front() <= 'Z') << e.message;
      }
    }
  }
}

TEST(VendorError, NumberAppearsInMessageWhenGiven) {
  for (int code : {-2, -3, -4}) {
    const Error e = qxt::vendor_error(Endpoint::Carrier, code, "x", "13972565391");
    EXPECT_NE(e.message.find("13972565391"), std::string::npos) << e.message;
  }
  const Error e = qxt::vendor_error(Endpoint::Carrier, -4, "x");
  EXPECT_EQ(e.message.find("13972565391"), std::string::npos);
}

TEST(VendorError, EmptyReasonStillReadable) {
  const Error e = qxt::vendor_error(Endpoint::Balance, -1, "");
  EXPECT_NE(e.detail.find("-1"), std::string::npos);
  EXPECT_EQ(e.detail.find("\"\""), std::string::npos) << e.detail;
}

TEST(VendorError, MinusNineIpReasonIsKeyRejected) {
  // The 2020 edition: -9 "ip 地址鉴权失败" (IP address not authorised).
  for (Endpoint ep : kEndpoints) {
    for (const char* reason : {"ip 地址鉴权失败", "IP地址鉴权失败", "Ip not allowed", "bad iP"}) {
      const Error e = qxt::vendor_error(ep, -9, reason);
      EXPECT_EQ(e.kind, ErrorKind::KeyRejected) << reason;
      EXPECT_EQ(e.sqlstate, "28000");
      EXPECT_NE(e.message.find("IP"), std::string::npos) << e.message;
      EXPECT_FALSE(e.hint.empty());
      EXPECT_NE(e.detail.find(reason), std::string::npos);
    }
    // The later edition: -9 is a JSON format error in the request.
    for (const char* reason : {"JSON 格式错误,请检查后再进行提交", "", "format error"}) {
      const Error e = qxt::vendor_error(ep, -9, reason);
      EXPECT_EQ(e.kind, ErrorKind::VendorRejected) << reason;
      EXPECT_EQ(e.sqlstate, "QX001");
      EXPECT_FALSE(e.hint.empty());
    }
  }
}

TEST(VendorError, SpecificHints) {
  EXPECT_NE(qxt::vendor_error(Endpoint::CarrierBatch, -10, "x").hint.find("batch_size"),
            std::string::npos);
  EXPECT_NE(qxt::vendor_error(Endpoint::Carrier, -1, "x").hint.find("qxt.apikey"),
            std::string::npos);
  EXPECT_NE(qxt::vendor_error(Endpoint::Carrier, -5, "x").hint.find("qxt_balance"),
            std::string::npos);
}

TEST(VendorCodes, AccountLevel) {
  for (int code = -20; code <= 20; ++code) {
    const bool expected = code == -1 || code == -5 || code == -6;
    EXPECT_EQ(qxt::is_account_level(code), expected) << code;
  }
}

TEST(VendorCodes, Retryable) {
  for (int code = -20; code <= 20; ++code)
    EXPECT_EQ(qxt::is_retryable_vendor_code(code), code == -8) << code;
}

}  // namespace

namespace {

// The vendor-code table: each documented code has exactly one row, and
// what the rest of the client asks of a code comes from it.
TEST(VendorCodes, OneRowPerCode) {
  for (std::size_t i = 0; i < qxt::kVendorCodeCount; ++i) {
    const qxt::VendorCode& v = qxt::kVendorCodes[i];
    EXPECT_EQ(qxt::vendor_code_index(v.code), i) << v.code;
    EXPECT_EQ(qxt::vendor_code(v.code), &v) << v.code;
    EXPECT_EQ(qxt::is_kept_answer(v.code), v.kept) << v.code;
    EXPECT_FALSE(v.kept && (v.account_level || v.retryable)) << v.code;
    EXPECT_EQ(qxt::vendor_error(Endpoint::Carrier, v.code, "").kind,
              v.code == -9 ? qxt::ErrorKind::VendorRejected : v.kind) << v.code;
  }
  EXPECT_EQ(qxt::vendor_code(0), nullptr);
  EXPECT_EQ(qxt::vendor_code_index(-11), qxt::kVendorCodeCount);
  EXPECT_TRUE(qxt::is_kept_answer(0));
  EXPECT_FALSE(qxt::is_kept_answer(-11));
}

}  // namespace
