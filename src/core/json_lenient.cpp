// The lenient JSON reader's out-of-line parts: string decoding, numbers,
// literals, skipping, and the errors (see json_lenient.hpp).
#include "json_lenient.hpp"

#include <cstring>
#include <string>

#include "errors.hpp"

namespace qxt {
namespace json_lenient {

namespace {

// Length of the well-formed UTF-8 sequence at s[i] (RFC 3629: no overlongs,
// no surrogates, nothing above U+10FFFF), 0 when ill-formed, or -1 when the
// sequence is a valid beginning cut off by the end of the input.
int utf8_len(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  int len;
  unsigned char lo = 0x80, hi = 0xBF;  // range of the second byte
  if (c >= 0xC2 && c <= 0xDF) len = 2;
  else if (c == 0xE0) { len = 3; lo = 0xA0; }
  else if (c >= 0xE1 && c <= 0xEC) len = 3;
  else if (c == 0xED) { len = 3; hi = 0x9F; }
  else if (c >= 0xEE && c <= 0xEF) len = 3;
  else if (c == 0xF0) { len = 4; lo = 0x90; }
  else if (c >= 0xF1 && c <= 0xF3) len = 4;
  else if (c == 0xF4) { len = 4; hi = 0x8F; }
  else return 0;
  for (int k = 1; k < len; ++k) {
    if (i + k >= s.size()) return -1;
    const unsigned char x = b(i + k);
    if (k == 1 ? (x < lo || x > hi) : (x < 0x80 || x > 0xBF)) return 0;
  }
  return len;
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

constexpr std::uint32_t kReplacement = 0xFFFD;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

const char kHint[] =
    "Check that qxt.base_url points at the QXT API. If it does, the vendor has "
    "changed its answer format: please report it with this DETAIL.";
const char kEmptyHint[] =
    "An empty answer usually means the vendor's service failed during the "
    "request: try again later. If it persists, check qxt.base_url.";
const char kTruncatedHint[] =
    "The answer was cut short, usually by the network or an overloaded vendor: "
    "try again later. If it persists, check qxt.base_url and any proxy.";
const char kHtmlHint[] =
    "An HTML page usually comes from a proxy, a captive portal or a wrong "
    "qxt.base_url: check qxt.base_url and any proxy in between.";

std::string excerpt_detail(std::string_view body) {
  std::string d = "The answer (";
  d += std::to_string(body.size());
  d += body.size() == 1 ? " byte)" : " bytes)";
  d += body.size() <= kQuoteBytes ? " was: " : " begins: ";
  d += quote_excerpt(body);
  return d;
}

[[noreturn]] void fail(std::string message, std::string_view body,
                       const char* hint = kHint) {
  throw QxtError(make_error(ErrorKind::BadResponse, std::move(message),
                            excerpt_detail(body), hint));
}

std::string describe_char(char ch) {
  const auto c = static_cast<unsigned char>(ch);
  if (c >= 0x21 && c <= 0x7E) return std::string("'") + ch + "'";
  if (c == ' ') return "a space";
  static const char* hex = "0123456789ABCDEF";
  std::string s = "byte 0x";
  s += hex[c >> 4];
  s += hex[c & 15];
  return s;
}

}  // namespace

std::string quote_excerpt(std::string_view body, std::size_t max_bytes) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  const std::size_t n = body.size() < max_bytes ? body.size() : max_bytes;
  std::size_t i = 0;
  while (i < n) {
    const auto c = static_cast<unsigned char>(body[i]);
    if (c >= 0x20 && c < 0x7F) {
      out.push_back(static_cast<char>(c));
      ++i;
    } else if (c == '\n') { out += "\\n"; ++i; }
    else if (c == '\r') { out += "\\r"; ++i; }
    else if (c == '\t') { out += "\\t"; ++i; }
    else {
      const int len = c >= 0x80 ? utf8_len(body, i) : 0;
      if (len > 0 && i + len <= n) {
        out.append(body.data() + i, static_cast<std::size_t>(len));
        i += static_cast<std::size_t>(len);
      } else {
        out += "\\x";
        out += hex[c >> 4];
        out += hex[c & 15];
        ++i;
      }
    }
  }
  if (body.size() > n) out += "...";
  return out;
}

void Reader::begin() {
  if (s_.size() >= 3 && std::memcmp(s_.data(), "\xEF\xBB\xBF", 3) == 0) pos_ = 3;
  skip_ws();
  if (pos_ >= s_.size()) {
    std::string m = "the vendor answered ";
    m += ctx_;
    m += " with an empty body";
    throw QxtError(make_error(
        ErrorKind::BadResponse, std::move(m),
        s_.empty() ? std::string("The answer had no body at all.")
                   : "The answer held only " + std::to_string(s_.size()) +
                         " bytes of white space.",
        kEmptyHint));
  }
  if (s_[pos_] == '<') {
    std::string m = "the vendor answered ";
    m += ctx_;
    m += " with an HTML page instead of JSON";
    fail(std::move(m), s_, kHtmlHint);
  }
}

void Reader::finish() {
  skip_ws();
  if (pos_ < s_.size()) syntax_error("unexpected text after the end of the JSON value");
}

void Reader::syntax_error(const char* what) const {
  std::string m = "the answer from ";
  m += ctx_;
  m += " is not valid JSON: ";
  m += what;
  if (pos_ < s_.size()) {
    m += " (found ";
    m += describe_char(s_[pos_]);
    m += ")";
  }
  m += " at byte ";
  m += std::to_string(pos_);
  fail(std::move(m), s_);
}

void Reader::syntax_error_expected(const char* what) const {
  std::string w = "expected ";
  w += what;
  syntax_error(w.c_str());
}

void Reader::truncated() const {
  std::string m = "the answer from ";
  m += ctx_;
  m += " ends in the middle of the JSON value (truncated after ";
  m += std::to_string(s_.size());
  m += " bytes)";
  fail(std::move(m), s_, kTruncatedHint);
}

void Reader::shape_error(const std::string& what) const {
  std::string m = "the answer from ";
  m += ctx_;
  m += " is not in the documented form: ";
  m += what;
  m += " (near byte ";
  m += std::to_string(pos_);
  m += ")";
  throw ShapeError(make_error(ErrorKind::BadResponse, std::move(m), excerpt_detail(s_), kHint));
}

void Reader::nesting_error() const {
  std::string m = "the answer from ";
  m += ctx_;
  m += " is nested deeper than ";
  m += std::to_string(kMaxDepth);
  m += " levels";
  fail(std::move(m), s_);
}

void Reader::read_key() {
  key_.clear();
  ++pos_;  // the opening quote
  read_string_body(key_);
  for (char& c : key_)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + ('a' - 'A'));
}

void Reader::read_string_body(std::string& out) {
  const std::size_t n = s_.size();
  for (;;) {
    const std::size_t start = pos_;
    while (pos_ < n) {
      const auto c = static_cast<unsigned char>(s_[pos_]);
      if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
      ++pos_;
    }
    if (pos_ > start) out.append(s_.data() + start, pos_ - start);
    if (pos_ >= n) truncated();
    const auto c = static_cast<unsigned char>(s_[pos_]);
    if (c == '"') {
      ++pos_;
      return;
    }
    if (c >= 0x80) {
      const int len = utf8_len(s_, pos_);
      if (len < 0) truncated();
      if (len == 0) {
        append_utf8(out, kReplacement);
        ++pos_;
      } else {
        out.append(s_.data() + pos_, static_cast<std::size_t>(len));
        pos_ += static_cast<std::size_t>(len);
      }
      continue;
    }
    if (c < 0x20) syntax_error("a control character inside a string");
    // A backslash escape.
    if (pos_ + 1 >= n) truncated();
    const char e = s_[pos_ + 1];
    switch (e) {
      case '"': out.push_back('"'); pos_ += 2; continue;
      case '\\': out.push_back('\\'); pos_ += 2; continue;
      case '/': out.push_back('/'); pos_ += 2; continue;
      case 'b': out.push_back('\b'); pos_ += 2; continue;
      case 'f': out.push_back('\f'); pos_ += 2; continue;
      case 'n': out.push_back('\n'); pos_ += 2; continue;
      case 'r': out.push_back('\r'); pos_ += 2; continue;
      case 't': out.push_back('\t'); pos_ += 2; continue;
      case 'u': break;
      default:
        ++pos_;
        syntax_error("an unknown escape sequence in a string");
    }
    // \uXXXX, possibly a surrogate pair.
    const auto read_hex4 = [&](std::size_t at) -> std::uint32_t {
      if (at + 4 > n) {
        // Distinguish "cut off" from "bad digits" in what is there.
        for (std::size_t k = at; k < n; ++k)
          if (hex_value(s_[k]) < 0) { pos_ = k; syntax_error("a malformed \\u escape"); }
        truncated();
      }
      std::uint32_t v = 0;
      for (std::size_t k = 0; k < 4; ++k) {
        const int h = hex_value(s_[at + k]);
        if (h < 0) { pos_ = at + k; syntax_error("a malformed \\u escape"); }
        v = (v << 4) | static_cast<std::uint32_t>(h);
      }
      return v;
    };
    std::uint32_t cp = read_hex4(pos_ + 2);
    pos_ += 6;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      if (pos_ + 1 < n && s_[pos_] == '\\' && s_[pos_ + 1] == 'u') {
        const std::uint32_t lo = read_hex4(pos_ + 2);
        if (lo >= 0xDC00 && lo <= 0xDFFF) {
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          pos_ += 6;
        } else {
          cp = kReplacement;  // a lone high surrogate; the next escape stands alone
        }
      } else {
        cp = kReplacement;
      }
    } else if ((cp >= 0xDC00 && cp <= 0xDFFF) || cp == 0) {
      cp = kReplacement;  // lone low surrogate, or NUL (not storable in text)
    }
    append_utf8(out, cp);
  }
}

std::string_view Reader::read_number_token() {
  skip_ws();
  const std::size_t n = s_.size();
  const std::size_t start = pos_;
  const auto digit = [&](std::size_t i) { return i < n && s_[i] >= '0' && s_[i] <= '9'; };
  if (pos_ < n && s_[pos_] == '-') ++pos_;
  if (pos_ >= n) truncated();
  if (s_[pos_] == '0') {
    ++pos_;
  } else if (digit(pos_)) {
    while (digit(pos_)) ++pos_;
  } else {
    syntax_error("a malformed number");
  }
  if (pos_ < n && s_[pos_] == '.') {
    ++pos_;
    if (pos_ >= n) truncated();
    if (!digit(pos_)) syntax_error("a malformed number (no digit after '.')");
    while (digit(pos_)) ++pos_;
  }
  if (pos_ < n && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
    ++pos_;
    if (pos_ < n && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
    if (pos_ >= n) truncated();
    if (!digit(pos_)) syntax_error("a malformed number (no digit in the exponent)");
    while (digit(pos_)) ++pos_;
  }
  return s_.substr(start, pos_ - start);
}

void Reader::read_literal(Kind k) {
  skip_ws();
  const char* lit = k == Kind::Null ? "null" : k == Kind::True ? "true" : "false";
  const std::size_t len = std::strlen(lit);
  for (std::size_t i = 0; i < len; ++i) {
    if (pos_ + i >= s_.size()) truncated();
    if (s_[pos_ + i] != lit[i]) {
      pos_ += i;
      syntax_error("a misspelt literal (expected null, true or false)");
    }
  }
  pos_ += len;
}

void Reader::skip_value() {
  switch (peek_kind()) {
    case Kind::Object:
      read_object([this](std::string_view) { skip_value(); });
      return;
    case Kind::Array:
      read_array([this] { skip_value(); });
      return;
    case Kind::String:
      read_string(scratch_);
      return;
    case Kind::Number:
      read_number_token();
      return;
    case Kind::True:
    case Kind::False:
    case Kind::Null:
      read_literal(peek_kind());
      return;
    case Kind::End:
      truncated();
    case Kind::Invalid:
      syntax_error("expected a value");
  }
}

}  // namespace json_lenient
}  // namespace qxt
