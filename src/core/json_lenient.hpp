// A small, lenient, pull-style JSON reader for the vendor's answers.  Private
// to response.cpp (and its tests/fuzzers); not a general JSON library.
//
// What it accepts beyond RFC 8259, and nothing more:
//  * a UTF-8 byte-order mark before the value;
//  * one trailing comma before '}' or ']' ("balance": "12048", });
//  * an object whose only content is an unnamed object ("result": {{...}},
//    the 2020 document's typo) — read as that inner object.
// What it decides:
//  * nesting deeper than kMaxDepth levels is an error (no stack exhaustion);
//  * invalid UTF-8 inside strings, lone UTF-16 surrogates and "\u0000" are
//    replaced by U+FFFD, so every string it returns is valid UTF-8 without
//    NUL (what PostgreSQL text accepts).  Replacing rather than rejecting
//    keeps a 1000-number batch that was paid for when one Area is mangled;
//  * raw control characters inside strings and unknown escapes are errors,
//    as in JSON.
// Errors throw QxtError(BadResponse) with a plain-words message, the byte
// offset, and a DETAIL quoting at most the first kQuoteBytes bytes of the
// body, sanitised.
#pragma once

#include "core_only.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "errors.hpp"

namespace qxt {
namespace json_lenient {

inline constexpr int kMaxDepth = 32;
inline constexpr std::size_t kQuoteBytes = 100;

enum class Kind { Object, Array, String, Number, True, False, Null, End, Invalid };

// What Reader::shape_error throws: the text is valid JSON so far, but not
// the documented shape.  Unlike a syntax error, the reader can step over
// the value at fault (see Reader::mark) and read on.
class ShapeError : public QxtError {
 public:
  using QxtError::QxtError;
};

// A printable, valid-UTF-8 rendering of at most the first `max_bytes` bytes
// of `body` (control characters and invalid bytes escaped as \n, \xNN, ...),
// with "..." appended when cut.
std::string quote_excerpt(std::string_view body, std::size_t max_bytes = kQuoteBytes);

class Reader {
 public:
  // `context` names the endpoint for messages ("/carrier").
  Reader(std::string_view body, const char* context) : s_(body), ctx_(context) {}

  // Skips a BOM and whitespace; throws when nothing (or an HTML page) is there.
  void begin();
  // Throws unless only whitespace is left.
  void finish();

  // The kind of the next value (skips whitespace first).
  // A literal is only announced when the text spells it (or is cut off
  // while spelling it): "this is not json" is not a boolean.
  Kind literal_or_invalid(std::string_view lit, Kind k) const {
    std::string_view rest = s_.substr(pos_, lit.size());
    return lit.compare(0, rest.size(), rest) == 0 ? k : Kind::Invalid;
  }

  Kind peek_kind() {
    skip_ws();
    if (pos_ >= s_.size()) return Kind::End;
    switch (s_[pos_]) {
      case '{': return Kind::Object;
      case '[': return Kind::Array;
      case '"': return Kind::String;
      case 't': return literal_or_invalid("true", Kind::True);
      case 'f': return literal_or_invalid("false", Kind::False);
      case 'n': return literal_or_invalid("null", Kind::Null);
      case '-': case '0': case '1': case '2': case '3': case '4':
      case '5': case '6': case '7': case '8': case '9': return Kind::Number;
      default: return Kind::Invalid;
    }
  }

  // Reads an object, calling on_member(key) for each member with the key
  // lower-cased (ASCII); on_member must consume the value.
  template <class F>
  void read_object(F&& on_member) {
    expect('{', "'{'");
    enter();
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == '{') {
      // {{ ... }}: the document's typo; the inner object is the object.
      read_object(on_member);
      skip_ws();
      if (pos_ < s_.size() && s_[pos_] == ',') { ++pos_; skip_ws(); }
      expect('}', "'}' after the doubly-braced object");
      leave();
      return;
    }
    if (pos_ < s_.size() && s_[pos_] == '}') { ++pos_; leave(); return; }
    for (;;) {
      skip_ws();
      if (pos_ >= s_.size()) truncated();
      if (s_[pos_] != '"') syntax_error("expected a quoted key");
      read_key();
      skip_ws();
      expect(':', "':' after a key");
      on_member(std::string_view(key_));
      skip_ws();
      if (pos_ >= s_.size()) truncated();
      const char c = s_[pos_++];
      if (c == '}') break;
      if (c != ',') { --pos_; syntax_error("expected ',' or '}' in an object"); }
      skip_ws();
      if (pos_ < s_.size() && s_[pos_] == '}') { ++pos_; break; }  // trailing comma
    }
    leave();
  }

  // Reads an array, calling on_element() for each element; on_element must
  // consume the element.
  template <class F>
  void read_array(F&& on_element) {
    expect('[', "'['");
    enter();
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == ']') { ++pos_; leave(); return; }
    for (;;) {
      on_element();
      skip_ws();
      if (pos_ >= s_.size()) truncated();
      const char c = s_[pos_++];
      if (c == ']') break;
      if (c != ',') { --pos_; syntax_error("expected ',' or ']' in an array"); }
      skip_ws();
      if (pos_ < s_.size() && s_[pos_] == ']') { ++pos_; break; }  // trailing comma
    }
    leave();
  }

  // Reads a string value (decoded, valid UTF-8) into `out` (replaced).
  void read_string(std::string& out) {
    out.clear();
    expect('"', "'\"'");
    read_string_body(out);
  }

  // Reads a number token (validated JSON grammar) and returns its text.
  std::string_view read_number_token();

  // Reads the literal null / true / false.
  void read_literal(Kind k);

  // Skips any value (validated, depth-limited).
  void skip_value();

  std::size_t pos() const { return pos_; }

  // A position to come back to (before a value), e.g. to skip a value whose
  // reading stopped at a ShapeError half-way through.
  struct Mark {
    std::size_t pos;
    int depth;
  };
  Mark mark() const { return Mark{pos_, depth_}; }
  void reset(const Mark& m) {
    pos_ = m.pos;
    depth_ = m.depth;
  }
  std::string_view body() const { return s_; }
  const char* context() const { return ctx_; }

  [[noreturn]] void syntax_error(const char* what) const;
  [[noreturn]] void truncated() const;
  // The body is valid JSON but not the documented shape (throws ShapeError).
  [[noreturn]] void shape_error(const std::string& what) const;

 private:
  void skip_ws() {
    while (pos_ < s_.size()) {
      const char c = s_[pos_];
      if (c != ' ' && c != '\n' && c != '\r' && c != '\t') break;
      ++pos_;
    }
  }
  void expect(char c, const char* what) {
    if (pos_ >= s_.size()) truncated();
    if (s_[pos_] != c) syntax_error_expected(what);
    ++pos_;
  }
  void enter() {
    if (++depth_ > kMaxDepth) nesting_error();
  }
  void leave() { --depth_; }
  void read_key();
  void read_string_body(std::string& out);  // after the opening quote
  [[noreturn]] void syntax_error_expected(const char* what) const;
  [[noreturn]] void nesting_error() const;

  std::string_view s_;
  const char* ctx_;
  std::size_t pos_ = 0;
  int depth_ = 0;
  std::string key_;      // reused for every key: no allocation per member
  std::string scratch_;  // reused for skipped strings
};

}  // namespace json_lenient
}  // namespace qxt
