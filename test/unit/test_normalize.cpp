// normalize_mobile(), mobile_to_key(), key_to_mobile().
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "normalize.hpp"

namespace {

using qxt::normalize_mobile;

struct Valid {
  const char* input;
  const char* expected;
};

const Valid kValid[] = {
    // bare
    {"13972565391", "13972565391"},
    {"13000000000", "13000000000"},
    {"19999999999", "19999999999"},
    {"14012345678", "14012345678"},
    {"15012345678", "15012345678"},
    {"16612345678", "16612345678"},
    {"17012345678", "17012345678"},
    {"18612345678", "18612345678"},
    {"19212345678", "19212345678"},
    // surrounding whitespace
    {" 13972565391", "13972565391"},
    {"13972565391 ", "13972565391"},
    {"\t13972565391\n", "13972565391"},
    {"\r\n 13972565391 \v\f", "13972565391"},
    // separators
    {"139 7256 5391", "13972565391"},
    {"139-7256-5391", "13972565391"},
    {"139.7256.5391", "13972565391"},
    {"139-7256 5391", "13972565391"},
    {"1 3 9 7 2 5 6 5 3 9 1", "13972565391"},
    {"139  7256  5391", "13972565391"},
    {"139 - 7256 - 5391", "13972565391"},
    {"1397256-5391", "13972565391"},
    // +86
    {"+8613972565391", "13972565391"},
    {"+86 13972565391", "13972565391"},
    {"+86-13972565391", "13972565391"},
    {"+86.13972565391", "13972565391"},
    {"+86 139-7256-5391", "13972565391"},
    {"+86 139 7256 5391", "13972565391"},
    {"  +86 139 7256 5391  ", "13972565391"},
    // 0086
    {"008613972565391", "13972565391"},
    {"0086 13972565391", "13972565391"},
    {"0086-139-7256-5391", "13972565391"},
    // bare 86 (13 digits in all)
    {"8613972565391", "13972565391"},
    {"86 13972565391", "13972565391"},
    {"86-139-7256-5391", "13972565391"},
    {"86 139 7256 5391", "13972565391"},
    // parenthesised country code, at the start only
    {"(+86)13972565391", "13972565391"},
    {"(+86) 139 7256 5391", "13972565391"},
    {"(86)13972565391", "13972565391"},
    {"(86) 139-7256-5391", "13972565391"},
    {"(0086)13972565391", "13972565391"},
    {"(0086) 13972565391", "13972565391"},
    // a number that itself starts with 86 after the prefix's digits
    {"+86 18612345678", "18612345678"},
    {"8618612345678", "18612345678"},
};

const char* const kInvalid[] = {
    // empty and separators only
    "",
    " ",
    "\t\n",
    "-",
    "...",
    " - - ",
    // too few / too many digits
    "1",
    "1397256539",
    "139725653911",
    "1397256539123",
    "13972565391234567890",
    "139 7256 539",
    // wrong leading digits
    "03972565391",
    "23972565391",
    "10972565391",
    "11972565391",
    "12972565391",
    "99999999999",
    // letters, other characters
    "1397256539a",
    "a13972565391",
    "139-7256-539O",
    "tel:13972565391",
    "13972565391x",
    "139_7256_5391",
    "139/7256/5391",
    "139,7256,5391",
    "139\t7256\t5391",
    "(139) 7256 5391",
    "139(7256)5391",
    "1e10",
    // full-width digits, other non-ASCII
    "\xEF\xBC\x91\xEF\xBC\x93\xEF\xBC\x99\xEF\xBC\x97\xEF\xBC\x92\xEF\xBC\x95\xEF\xBC\x96"
    "\xEF\xBC\x95\xEF\xBC\x93\xEF\xBC\x99\xEF\xBC\x91",  // １３９７２５６５３９１
    "139\xE2\x80\x94" "7256" "\xE2\x80\x94" "5391",   // em dashes
    "\xC2\xA0" "13972565391",                          // no-break space
    "13972565391\xE3\x80\x80",                         // ideographic space
    "\xEF\xBB\xBF" "13972565391",                      // BOM
    "\xFF" "13972565391",
    // '+' elsewhere, wrong prefixes
    "139+72565391",
    "13972565391+",
    "++8613972565391",
    "+ 86 13972565391",
    "+-8613972565391",
    "+13972565391",
    "+1 13972565391",
    "+852 13972565391",
    "+85213972565391",
    "+8 613972565391",
    "+086 13972565391",
    "086 13972565391",
    "013972565391",
    "0 13972565391",
    "00 86 13972565391",
    "00013972565391",
    "(+86 13972565391",
    "( +86 ) 13972565391",
    "(+852)13972565391",
    "()13972565391",
    "+86()13972565391",
    // two prefixes
    "+86 86 13972565391",
    "+860086 13972565391",
    "0086+8613972565391",
    "0086 86 13972565391",
    "868613972565391",
    "(+86)+86 13972565391",
    // prefix without number, number cut
    "+86",
    "+86 ",
    "0086",
    "(+86)",
    "+86 1397256539",
    "86 1397256539",
    "8613972565391 1",
    // separators at the ends of the digits
    "-13972565391",
    "13972565391-",
    ".13972565391",
    "13972565391.",
    "- 139 7256 5391",
    "+86 139 7256 5391-",
};

TEST(NormalizeMobile, ValidFormsTable) {
  for (const auto& v : kValid) {
    char out[qxt::kMobileDigits];
    ASSERT_TRUE(normalize_mobile(std::string_view(v.input), out)) << "input: [" << v.input << "]";
    EXPECT_EQ(std::string(out, qxt::kMobileDigits), v.expected) << "input: [" << v.input << "]";
    const auto s = normalize_mobile(std::string_view(v.input));
    ASSERT_TRUE(s.has_value()) << v.input;
    EXPECT_EQ(*s, v.expected);
  }
}

TEST(NormalizeMobile, InvalidFormsTable) {
  EXPECT_GE(sizeof kInvalid / sizeof kInvalid[0], 60u);
  for (const char* in : kInvalid) {
    char out[qxt::kMobileDigits];
    EXPECT_FALSE(normalize_mobile(std::string_view(in), out)) << "input: [" << in << "]";
    EXPECT_FALSE(normalize_mobile(std::string_view(in)).has_value()) << "input: [" << in << "]";
  }
}

TEST(NormalizeMobile, EmbeddedNulIsRejected) {
  const std::string with_nul("139\0" "7256" "5391", 12);
  EXPECT_FALSE(normalize_mobile(std::string_view(with_nul)).has_value());
  const std::string trailing_nul("13972565391\0", 12);
  EXPECT_FALSE(normalize_mobile(std::string_view(trailing_nul)).has_value());
  const std::string leading_nul("\0" "13972565391", 12);
  EXPECT_FALSE(normalize_mobile(std::string_view(leading_nul)).has_value());
}

TEST(NormalizeMobile, LongInputsAreRejectedCheaply) {
  // A valid number padded with whitespace beyond 64 bytes: rejected by length.
  std::string padded(60, ' ');
  padded += "13972565391";
  EXPECT_FALSE(normalize_mobile(std::string_view(padded)).has_value());
  std::string ok(40, ' ');
  ok += "13972565391";
  EXPECT_TRUE(normalize_mobile(std::string_view(ok)).has_value());
  EXPECT_FALSE(normalize_mobile(std::string(100000, '1')).has_value());
}

TEST(NormalizeMobile, DoesNotWriteOutputOnFailure) {
  char out[qxt::kMobileDigits];
  std::memset(out, 'x', sizeof out);
  EXPECT_FALSE(normalize_mobile(std::string_view("+1 13972565391"), out));
  EXPECT_EQ(std::string(out, sizeof out), std::string(sizeof out, 'x'));
}

TEST(NormalizeMobile, ResultIsAFixedPoint) {
  for (const auto& v : kValid) {
    const auto s = normalize_mobile(std::string_view(v.input));
    ASSERT_TRUE(s);
    EXPECT_EQ(normalize_mobile(*s), s);
  }
}

// For random valid numbers, every decorated form normalises back.
TEST(NormalizeMobile, PropertyDecoratedFormsNormaliseBack) {
  std::mt19937_64 rng(20240611);
  const char* const prefixes[] = {"", "+86", "0086", "86", "(+86)", "(86)", "(0086)"};
  const char* const after_prefix[] = {"", " ", "-", "."};
  const char* const seps[] = {" ", "-", ".", "  ", " - "};
  const char* const blanks[] = {"", " ", "\t", "\r\n", "  "};
  for (int iter = 0; iter < 5000; ++iter) {
    std::string num = "1";
    num += static_cast<char>('3' + rng() % 7);
    for (int i = 0; i < 9; ++i) num += static_cast<char>('0' + rng() % 10);

    std::string decorated = blanks[rng() % 5];
    const std::string prefix = prefixes[rng() % 7];
    decorated += prefix;
    if (!prefix.empty()) decorated += after_prefix[rng() % 4];
    // Random grouping: a separator (or none) after each digit but the last.
    const std::string sep = seps[rng() % 5];
    const int style = static_cast<int>(rng() % 3);  // 0 none, 1 3-4-4, 2 random
    for (std::size_t i = 0; i < num.size(); ++i) {
      decorated += num[i];
      if (i + 1 == num.size()) break;
      if ((style == 1 && (i == 2 || i == 6)) || (style == 2 && rng() % 4 == 0))
        decorated += sep;
    }
    decorated += blanks[rng() % 5];
    if (decorated.size() > 64) continue;  // the cheap length cap

    char out[qxt::kMobileDigits];
    ASSERT_TRUE(normalize_mobile(std::string_view(decorated), out)) << "[" << decorated << "]";
    ASSERT_EQ(std::string(out, qxt::kMobileDigits), num) << "[" << decorated << "]";

    // And a broken variant of it never passes: add a 12th digit.
    std::string longer = decorated;
    const auto last = longer.find_last_of("0123456789");
    longer.insert(last + 1, "7");
    EXPECT_FALSE(normalize_mobile(std::string_view(longer), out)) << "[" << longer << "]";
  }
}

TEST(MobileKey, RoundTrip) {
  EXPECT_EQ(qxt::mobile_to_key("13972565391"), 13972565391ULL);
  EXPECT_EQ(qxt::key_to_mobile(13972565391ULL), "13972565391");
  std::mt19937_64 rng(7);
  for (int i = 0; i < 10000; ++i) {
    const std::uint64_t k = 13000000000ULL + rng() % 7000000000ULL;
    const std::string m = qxt::key_to_mobile(k);
    ASSERT_EQ(m.size(), qxt::kMobileDigits);
    ASSERT_EQ(qxt::mobile_to_key(m), k);
  }
}

TEST(MobileKey, OutOfContractInputs) {
  EXPECT_EQ(qxt::mobile_to_key(""), 0u);
  EXPECT_EQ(qxt::mobile_to_key("1397256539"), 0u);
  EXPECT_EQ(qxt::mobile_to_key("1397256539a"), 0u);
  EXPECT_EQ(qxt::key_to_mobile(0), "00000000000");
  EXPECT_EQ(qxt::key_to_mobile(99999999999ULL), "99999999999");
  EXPECT_EQ(qxt::key_to_mobile(100000000000ULL), "");
}

}  // namespace
