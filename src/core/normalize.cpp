// Chinese mobile-number normalisation (see normalize.hpp for the contract).
//
// One left-to-right pass over the input, no allocation, no locale: it runs
// for every element of million-number arrays.  Decisions beyond the header:
//
//  * Inputs longer than kMaxInput bytes are rejected before looking at them.
//  * Surrounding ASCII whitespace (space, \t, \n, \v, \f, \r) is trimmed.
//    Inside the number only ' ', '-' and '.' separate digit groups; a run of
//    them ("139 - 7256") counts as one separator.  A separator may not come
//    first (after an optional prefix it may: "+86 139...") or last.
//  * Country prefixes, only at the very start: "+86", "0086", and the same
//    wrapped in parentheses "(+86)", "(86)", "(0086)" — a common way to write
//    the country code in address books and CRM exports; the parentheses must
//    enclose exactly the prefix (no spaces inside).  After an explicit prefix
//    exactly 11 digits must follow.  A bare leading "86" is stripped only when
//    the input holds exactly 13 digits.  Nothing else is stripped: "+" must be
//    followed by "86", "+ 86" is rejected, other country codes ("+1",
//    "+852") and a domestic trunk "0" are rejected, and two prefixes
//    ("+86 86 139...", "0086+86...") leave the wrong number of digits and are
//    rejected.
//  * Any other byte — letters, '+' elsewhere, parentheses elsewhere, tabs
//    inside, NUL, any non-ASCII byte (full-width digits included) — rejects.
#include "normalize.hpp"

#include <cstring>

namespace qxt {

namespace {

constexpr std::size_t kMaxInput = 64;

inline bool is_ascii_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}
inline bool is_digit(char c) { return c >= '0' && c <= '9'; }
inline bool is_sep(char c) { return c == ' ' || c == '-' || c == '.'; }

inline bool starts_with(const char* p, std::size_t n, const char* lit, std::size_t len) {
  return n >= len && std::memcmp(p, lit, len) == 0;
}

}  // namespace

bool normalize_mobile(std::string_view input, char (&out)[kMobileDigits]) {
  std::size_t n = input.size();
  if (n == 0 || n > kMaxInput) return false;
  const char* p = input.data();
  while (n > 0 && is_ascii_space(*p)) { ++p; --n; }
  while (n > 0 && is_ascii_space(p[n - 1])) --n;
  if (n == 0) return false;

  std::size_t i = 0;
  bool explicit_prefix = false;
  if (p[0] == '(') {
    if (starts_with(p, n, "(+86)", 5)) i = 5;
    else if (starts_with(p, n, "(86)", 4)) i = 4;
    else if (starts_with(p, n, "(0086)", 6)) i = 6;
    else return false;
    explicit_prefix = true;
  } else if (p[0] == '+') {
    if (!starts_with(p, n, "+86", 3)) return false;
    i = 3;
    explicit_prefix = true;
  } else if (starts_with(p, n, "0086", 4)) {
    i = 4;
    explicit_prefix = true;
  }
  if (explicit_prefix) {
    while (i < n && is_sep(p[i])) ++i;  // "+86 139...", "+86-139..."
  }
  // Now a digit must come first, and the last byte must be a digit.
  if (i >= n || !is_digit(p[i]) || !is_digit(p[n - 1])) return false;

  char buf[13];
  std::size_t nd = 0;
  for (; i < n; ++i) {
    const char c = p[i];
    if (is_digit(c)) {
      if (nd == sizeof buf) return false;
      buf[nd++] = c;
    } else if (!is_sep(c)) {
      return false;
    }
    // Separator runs are fine: both ends are known to be digits.
  }

  const char* d = buf;
  if (explicit_prefix) {
    if (nd != kMobileDigits) return false;
  } else if (nd == kMobileDigits + 2) {
    if (buf[0] != '8' || buf[1] != '6') return false;
    d += 2;
  } else if (nd != kMobileDigits) {
    return false;
  }
  if (d[0] != '1' || d[1] < '3' || d[1] > '9') return false;
  std::memcpy(out, d, kMobileDigits);
  return true;
}

std::optional<std::string> normalize_mobile(std::string_view input) {
  char out[kMobileDigits];
  if (!normalize_mobile(input, out)) return std::nullopt;
  return std::string(out, kMobileDigits);
}

std::uint64_t mobile_to_key(std::string_view digits) {
  // Precondition: a normalize_mobile() result.  Anything else maps to 0,
  // which no valid number has (they all start with 1).
  if (digits.size() != kMobileDigits) return 0;
  std::uint64_t k = 0;
  for (char c : digits) {
    if (!is_digit(c)) return 0;
    k = k * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return k;
}

void key_to_digits(std::uint64_t key, char (&out)[kMobileDigits]) noexcept {
  for (std::size_t i = kMobileDigits; i-- > 0;) {
    out[i] = static_cast<char>('0' + key % 10);
    key /= 10;
  }
}

std::string key_to_mobile(std::uint64_t key) {
  // 11 digits, zero-padded; a key of 12 or more digits is no mobile number.
  if (key >= 100000000000ULL) return std::string();
  char digits[kMobileDigits];
  key_to_digits(key, digits);
  return std::string(digits, kMobileDigits);
}

}  // namespace qxt
