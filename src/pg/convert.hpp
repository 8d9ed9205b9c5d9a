// Conversions between PostgreSQL values and the core's: text and
// std::string_view, mobile numbers and their keys, and the vendor's UTF-8
// texts in the database encoding.  PostgreSQL part: call outside C++ code
// (the text datums are palloc'd in CurrentMemoryContext).
#pragma once

#include "pg_prelude.hpp"

#include <type_traits>

// The bytes of a text value (detoasted by the caller: PG_GETARG_TEXT_PP,
// DatumGetTextPP), valid as long as the value is.
std::string_view qxt_text_view(const text* t);
// The key of an input's mobile number (normalize_mobile), 0 when it cannot
// be one.
uint64 qxt_mobile_key(std::string_view input);
// The keys of text elements (deconstruct_array), palloc'd: 0 for an element
// that is NULL or cannot be a number (normalize_mobile: pure core code).
uint64* qxt_mobile_keys(const Datum* elems, const bool* nulls, int n);
// The 11 digits of an input's mobile number into `digits`; raises 22023
// (nothing sent) when it cannot be one.
void qxt_mobile_digits(std::string_view input, char (&digits)[qxt::kMobileDigits]);
// A number's 11 digits, and a number key, as a text datum.
Datum qxt_digits_text(const char* digits);
Datum qxt_key_text(uint64 key);

// UTF-8 text (NUL-terminated) in the database encoding, never raising a
// conversion error: what the encoding cannot hold (or what is not valid
// UTF-8) is written as an escape, \uXXXX, \UXXXXXXXX or \xNN.  Returns
// `utf8` itself or a palloc'd string.
const char* qxt_to_server(const char* utf8);
// Vendor text (UTF-8) as a text datum in the database encoding.  Never a
// conversion error (the answer it belongs to was paid for): in an encoding
// that cannot hold a character (EUC_CN, say), it is written as an escape
// (qxt_to_server).
Datum qxt_vendor_text(const char* utf8, std::size_t len);
// A text value of the database as NUL-terminated UTF-8, allocated in `cxt`.
const char* qxt_text_to_utf8(MemoryContext cxt, text* t);

// The vendor texts of a batch job (areas, carriers: few) as text datums,
// each converted once (qxt_vendor_text) in `cxt` and its datum reused.
// Plain data: it may live in a frame PostgreSQL longjmps over.
class QxtTextDatums {
 public:
  QxtTextDatums(MemoryContext cxt, const qxt::BatchJob* job) : cxt_(cxt), job_(job) {}
  Datum get(std::uint32_t id);

 private:
  MemoryContext cxt_;
  const qxt::BatchJob* job_;
  std::size_t n_ = 0;
  Datum* datums_ = nullptr;
  bool* done_ = nullptr;
};
static_assert(std::is_trivially_destructible<QxtTextDatums>::value,
              "QxtTextDatums lives in a frame PostgreSQL may longjmp over");
