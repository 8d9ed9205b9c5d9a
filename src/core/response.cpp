// Parsing of the vendor's response bodies into CarrierRecord / BatchResponse /
// BalanceRecord (see response.hpp for the contract).
//
// Why a hand-written reader (json_lenient.hpp) and not nlohmann::json:
//  * Speed.  A batch answer is ~1000 elements / ~150 KB and the client's
//    budget is a few microseconds of CPU per number.  A DOM parse builds a
//    map node and a heap string per key and value (~10 allocations per
//    element) and then needs a second walk with case-insensitive key lookups;
//    with a pre-pass to strip trailing commas it also copies the body.  The
//    pull reader here fills the records directly in one pass: keys are
//    lower-cased into one reused buffer, unknown keys are skipped without
//    building anything, and the short values (Mobile, Area, ISP names) fit
//    the std::string small-buffer, so a batch costs about one allocation per
//    element.  bench/parser.sh measures it (README, Benchmark, "The parser").
//  * Leniency that nlohmann cannot give without rewriting the text: trailing
//    commas and the 2020 document's "result": {{ ... }}.
//
// Shape rules (decisions written down):
//  * Keys are matched in any ASCII case ("Init_isp", "Init_Isp", "init_isp");
//    unknown keys are skipped; a repeated key: the last one wins.
//  * code: a JSON integer or a string holding one (surrounding ASCII blanks
//    allowed, optional '-', no '+', no fraction or exponent); it must fit in
//    an int.  Missing / null / "" -> BadResponse.
//  * res: same forms, 0..kMaxRes (values other than 0/1/3 are kept for the
//    caller); null or "" -> -1 (absent).
//  * reason, Mobile, Area, Init_isp, Now_isp, feeType: a string or null ("").
//  * balance: an integer as for code, but it must fit in int64 (may be
//    negative); required when code == 0.
//  * result: when code == 0 it must be an object.  When code != 0 an object
//    is read (a failure may echo Mobile); any other value (null, [], "", ...)
//    is ignored, because a failure answer needs nothing from it.
//  * Batch: a top-level array of such objects (each element checked as a
//    single answer; an element that is not an object -> BadResponse), or a
//    single object with a non-zero code (a request-level failure).  A single
//    object with code 0 is not a batch answer -> BadResponse.
#include "response.hpp"

#include <algorithm>
#include <climits>
#include <optional>
#include <string>

#include "errors.hpp"
#include "json_lenient.hpp"

namespace qxt {

namespace {

using json_lenient::Kind;
using json_lenient::Reader;

constexpr long long kMaxRes = 999;

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::Object: return "an object";
    case Kind::Array: return "an array";
    case Kind::String: return "a string";
    case Kind::Number: return "a number";
    case Kind::True:
    case Kind::False: return "a boolean";
    case Kind::Null: return "null";
    case Kind::End: return "nothing";
    case Kind::Invalid: return "not a JSON value";
  }
  return "?";
}

std::string quoted(const char* field) { return std::string("'") + field + "'"; }

// Parses an optionally negative decimal integer (digits only) into [lo, hi];
// returns false when it is not one or out of range.
bool to_integer(std::string_view t, long long lo, long long hi, long long& out) {
  bool neg = false;
  std::size_t i = 0;
  if (i < t.size() && t[i] == '-') { neg = true; ++i; }
  if (i >= t.size()) return false;
  // Accumulate negatively so that LLONG_MIN is representable.
  long long v = 0;
  for (; i < t.size(); ++i) {
    const char c = t[i];
    if (c < '0' || c > '9') return false;
    const int d = c - '0';
    if (v < (LLONG_MIN + d) / 10) return false;  // would overflow
    v = v * 10 - d;
  }
  if (!neg) {
    if (v == LLONG_MIN) return false;
    v = -v;
  }
  if (v < lo || v > hi) return false;
  out = v;
  return true;
}

std::string_view trim_blanks(std::string_view s) {
  const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  return s;
}

// Reads an integer given as a JSON number or a string holding one.  Returns
// nullopt for null or "" (the caller decides whether that is allowed).
std::optional<long long> read_integer(Reader& r, const char* field, long long lo,
                                      long long hi, std::string& scratch) {
  const Kind k = r.peek_kind();
  std::string_view text;
  if (k == Kind::Number) {
    text = r.read_number_token();
  } else if (k == Kind::String) {
    r.read_string(scratch);
    text = trim_blanks(scratch);
    if (text.empty()) return std::nullopt;
  } else if (k == Kind::Null) {
    r.read_literal(k);
    return std::nullopt;
  } else if (k == Kind::End || k == Kind::Invalid) {
    r.skip_value();  // throws the right syntax / truncation error
    return std::nullopt;
  } else {
    r.shape_error(quoted(field) + " is " + kind_name(k) +
                  ", expected an integer (as a number or a string)");
  }
  long long v = 0;
  if (to_integer(text, lo, hi, v)) return v;
  bool integral = !text.empty();
  for (std::size_t i = (text[0] == '-') ? 1 : 0; integral && i < text.size(); ++i)
    integral = text[i] >= '0' && text[i] <= '9';
  if (integral && text != "-")
    r.shape_error(quoted(field) + " is out of range (" +
                  std::to_string(lo) + " to " + std::to_string(hi) + ")");
  r.shape_error(quoted(field) + " is not an integer");
}

// Reads a string or null into `out`.
void read_text(Reader& r, const char* field, std::string& out) {
  const Kind k = r.peek_kind();
  if (k == Kind::String) {
    r.read_string(out);
  } else if (k == Kind::Null) {
    r.read_literal(k);
    out.clear();
  } else if (k == Kind::End || k == Kind::Invalid) {
    r.skip_value();  // throws
  } else {
    r.shape_error(quoted(field) + " is " + kind_name(k) + ", expected a string");
  }
}

// What an answer object's "result" turned out to be.
enum class ResultSeen { Absent, Object, Other };

// The envelope every answer object shares: {"code": ..., "reason": ...,
// "result": {...}}.  `where` names the object in messages; each member of
// the result object is handed to on_result_member(lower-cased key), which
// must consume its value.  Checks that the object is an object and that
// code is present; returns what "result" was.
template <typename OnResultMember>
ResultSeen read_envelope(Reader& r, const std::string& where, int& code, std::string& reason,
                         std::string& scratch, OnResultMember&& on_result_member) {
  const Kind top = r.peek_kind();
  if (top != Kind::Object) {
    if (top == Kind::End || top == Kind::Invalid) r.skip_value();  // throws
    r.shape_error(where + " is " + kind_name(top) + ", expected an object");
  }
  bool has_code = false;
  ResultSeen result = ResultSeen::Absent;
  r.read_object([&](std::string_view key) {
    if (key == "code") {
      const auto v = read_integer(r, "code", INT_MIN, INT_MAX, scratch);
      if (!v) r.shape_error("'code' is empty");
      code = static_cast<int>(*v);
      has_code = true;
    } else if (key == "reason") {
      read_text(r, "reason", reason);
    } else if (key == "result") {
      if (r.peek_kind() != Kind::Object) {
        r.skip_value();
        result = ResultSeen::Other;
        return;
      }
      result = ResultSeen::Object;
      r.read_object(on_result_member);
    } else {
      r.skip_value();
    }
  });
  if (!has_code) r.shape_error("'code' is missing in " + where);
  return result;
}

// One answer object (single lookup, one batch element, or a request-level
// batch failure): fills `rec`; checks code presence and code 0 => result.
// `index` >= 0 names the batch element in messages.
// `require_result`: code 0 must come with a result object (false only for
// the batch's top-level object, which has its own message).
void read_carrier_object(Reader& r, CarrierRecord& rec, std::string& scratch,
                         long index, bool require_result = true) {
  const std::string where = index < 0 ? std::string("the answer")
                                      : "element " + std::to_string(index) + " of the batch answer";
  const ResultSeen result =
      read_envelope(r, where, rec.code, rec.reason, scratch, [&](std::string_view k) {
        if (k == "res") {
          const auto v = read_integer(r, "res", 0, kMaxRes, scratch);
          rec.res = v ? static_cast<int>(*v) : -1;
        } else if (k == "mobile") {
          read_text(r, "Mobile", rec.mobile);
        } else if (k == "area") {
          read_text(r, "Area", rec.area);
        } else if (k == "init_isp") {
          read_text(r, "Init_isp", rec.init_isp);
        } else if (k == "now_isp") {
          read_text(r, "Now_isp", rec.now_isp);
        } else {
          r.skip_value();
        }
      });
  if (require_result && rec.code == 0 && result != ResultSeen::Object)
    r.shape_error(where + " says success (code 0) but has no 'result' object");
}

}  // namespace

CarrierRecord parse_carrier(std::string_view body) {
  Reader r(body, "/carrier");
  r.begin();
  CarrierRecord rec;
  std::string scratch;
  read_carrier_object(r, rec, scratch, -1);
  r.finish();
  return rec;
}

namespace {

BatchResponse parse_batch_impl(std::string_view body, bool salvage) {
  Reader r(body, "/carrier_batch");
  r.begin();
  BatchResponse out;
  std::string scratch;
  const Kind top = r.peek_kind();
  if (top == Kind::Array) {
    // ~150 bytes per element in practice; a cheap upper bound avoids most
    // regrowth without trusting the body for a huge reservation.
    out.items.reserve(std::min<std::size_t>(body.size() / 100 + 1, 1024));
    r.read_array([&] {
      const Reader::Mark start = r.mark();
      CarrierRecord& rec = out.items.emplace_back();
      try {
        read_carrier_object(r, rec, scratch, static_cast<long>(out.items.size() - 1));
      } catch (const json_lenient::ShapeError& e) {
        if (!salvage) throw;
        // Step over the whole element (a syntax error in it still spoils
        // the answer: nothing after it could be trusted).
        r.reset(start);
        r.skip_value();
        rec = CarrierRecord();
        rec.unreadable = true;
        if (out.unreadable++ == 0) out.first_unreadable = e.error();
      }
    });
  } else if (top == Kind::Object) {
    CarrierRecord rec;
    read_carrier_object(r, rec, scratch, -1, /*require_result=*/false);
    if (rec.code == 0)
      r.shape_error("a single object with code 0 where an array of answers was expected");
    out.request_code = rec.code;
    out.request_reason = std::move(rec.reason);
  } else {
    if (top == Kind::End || top == Kind::Invalid) r.skip_value();  // throws
    r.shape_error(std::string("the answer is ") + kind_name(top) +
                  ", expected an array of answers or an error object");
  }
  r.finish();
  return out;
}

}  // namespace

BatchResponse parse_batch(std::string_view body) { return parse_batch_impl(body, false); }

BatchResponse parse_batch_salvaging(std::string_view body) {
  return parse_batch_impl(body, true);
}

BalanceRecord parse_balance(std::string_view body) {
  Reader r(body, "/balance");
  r.begin();
  BalanceRecord rec;
  std::string scratch;
  bool has_balance = false;
  const ResultSeen result =
      read_envelope(r, "the answer", rec.code, rec.reason, scratch, [&](std::string_view k) {
        if (k == "feetype") {
          read_text(r, "feeType", rec.fee_type);
        } else if (k == "balance") {
          const auto v = read_integer(r, "balance", LLONG_MIN, LLONG_MAX, scratch);
          has_balance = v.has_value();
          rec.balance = v ? *v : 0;
        } else {
          r.skip_value();
        }
      });
  if (rec.code == 0) {
    if (result != ResultSeen::Object)
      r.shape_error("the answer says success (code 0) but has no 'result' object");
    if (!has_balance)
      r.shape_error("the answer says success (code 0) but has no 'balance'");
  }
  r.finish();
  return rec;
}

}  // namespace qxt
