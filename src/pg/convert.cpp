// Conversions between PostgreSQL values and the core's.  See convert.hpp.
#include "convert.hpp"

extern "C" {
#include "catalog/namespace.h"
}

namespace {

// Appends the UTF-8 character (or stray byte) at `p` as an ASCII escape,
// \uXXXX (\UXXXXXXXX above U+FFFF) or \xNN; returns the bytes consumed.
int append_escaped(StringInfo out, const unsigned char* p, int left) {
  const int n = pg_utf_mblen(p);
  if (n > 1 && n <= left && pg_utf8_islegal(p, n)) {
    const pg_wchar c = utf8_to_unicode(p);
    appendStringInfo(out, c > 0xFFFF ? "\\U%08X" : "\\u%04X", static_cast<unsigned>(c));
    return n;
  }
  appendStringInfo(out, "\\x%02X", static_cast<unsigned>(p[0]));
  return 1;
}

// The core's texts are UTF-8 (our words and the vendor's reasons).  Returns
// them in the database encoding without ever raising a conversion error in
// place of the error being reported: what the database encoding cannot
// hold (or what is not valid UTF-8) is written as an escape instead.
const char* to_server(const char* s) {
  const int len = static_cast<int>(std::strlen(s));
  if (len == 0) return s;
  const int enc = GetDatabaseEncoding();
  if (enc == PG_SQL_ASCII) return s;  // bytes pass through, as everywhere in SQL_ASCII
  const unsigned char* src = reinterpret_cast<const unsigned char*>(s);
  StringInfoData out;
  initStringInfo(&out);
  if (enc == PG_UTF8) {
    int pos = 0;
    while (pos < len) {
      const int ok = pg_encoding_verifymbstr(PG_UTF8, s + pos, len - pos);
      appendBinaryStringInfo(&out, s + pos, ok);
      pos += ok;
      if (pos < len) pos += append_escaped(&out, src + pos, len - pos);
    }
    return out.data;
  }
  const Oid proc = FindDefaultConversionProc(PG_UTF8, enc);
  const int cap = len * MAX_CONVERSION_GROWTH + 1;
  unsigned char* buf = static_cast<unsigned char*>(palloc(cap));
  int pos = 0;
  while (pos < len) {
    int done = 0;
    if (OidIsValid(proc)) {
      done = pg_do_encoding_conversion_buf(proc, PG_UTF8, enc, const_cast<unsigned char*>(src + pos),
                                           len - pos, buf, cap, true);
      appendStringInfoString(&out, reinterpret_cast<const char*>(buf));
    } else {
      while (done < len - pos && src[pos + done] < 0x80) ++done;  // ASCII is common ground
      appendBinaryStringInfo(&out, s + pos, done);
    }
    pos += done;
    if (pos < len) pos += append_escaped(&out, src + pos, len - pos);
  }
  pfree(buf);
  return out.data;
}

}  // namespace

std::string_view qxt_text_view(const text* t) {
  return std::string_view(VARDATA_ANY(t), static_cast<std::size_t>(VARSIZE_ANY_EXHDR(t)));
}

uint64 qxt_mobile_key(std::string_view input) {
  char digits[qxt::kMobileDigits];
  if (!qxt::normalize_mobile(input, digits)) return 0;
  return qxt::mobile_to_key(std::string_view(digits, qxt::kMobileDigits));
}

uint64* qxt_mobile_keys(const Datum* elems, const bool* nulls, int n) {
  uint64* keys = static_cast<uint64*>(palloc_extended(sizeof(uint64) * n, MCXT_ALLOC_HUGE));
  for (int i = 0; i < n; ++i) {
    keys[i] = nulls[i] ? 0
                       : qxt_mobile_key(qxt_text_view(
                             reinterpret_cast<text*>(DatumGetPointer(elems[i]))));
  }
  return keys;
}

void qxt_mobile_digits(std::string_view input, char (&digits)[qxt::kMobileDigits]) {
  if (qxt::normalize_mobile(input, digits)) return;
  const char* data = input.data();
  const int len = static_cast<int>(input.size());
  int shown = pg_mbcliplen(data, len, 40);
  ereport(ERROR,
          (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
           errmsg("\"%.*s%s\" is not a valid Chinese mobile number", shown, data,
                  shown < len ? "..." : ""),
           errdetail("No request was sent and nothing was charged. A mobile number has 11 "
                     "digits starting with 13 to 19, optionally preceded by +86, 0086 or 86, "
                     "with spaces, dashes or dots between digit groups."),
           errhint("qxt_normalize_mobile() shows how a number is read; it returns NULL for "
                   "this one.")));
}

Datum qxt_digits_text(const char* digits) {
  return PointerGetDatum(cstring_to_text_with_len(digits, qxt::kMobileDigits));
}

Datum qxt_key_text(uint64 key) {
  char digits[qxt::kMobileDigits];
  qxt::key_to_digits(key, digits);
  return qxt_digits_text(digits);
}

const char* qxt_to_server(const char* utf8) { return to_server(utf8); }

Datum qxt_vendor_text(const char* s, std::size_t len) {
  const int enc = GetDatabaseEncoding();
  if (enc != PG_UTF8 && enc != PG_SQL_ASCII) {
    // The parser hands over valid UTF-8 without NUL; the database encoding
    // may still lack some of its characters (the vendor sends any UTF-8).
    char* copy = pnstrdup(s, len);
    const char* conv = qxt_to_server(copy);
    Datum d = CStringGetTextDatum(conv);
    if (conv != copy) pfree(const_cast<char*>(conv));
    pfree(copy);
    return d;
  }
  char* conv = pg_any_to_server(s, static_cast<int>(len), PG_UTF8);
  Datum d = PointerGetDatum(cstring_to_text_with_len(conv, conv == s ? static_cast<int>(len)
                                                                     : static_cast<int>(std::strlen(conv))));
  if (conv != s) pfree(conv);
  return d;
}

const char* qxt_text_to_utf8(MemoryContext cxt, text* tx) {
  int len = VARSIZE_ANY_EXHDR(tx);
  char* utf8 = pg_server_to_any(VARDATA_ANY(tx), len, PG_UTF8);
  return MemoryContextStrdup(cxt, utf8 == VARDATA_ANY(tx) ? pnstrdup(utf8, len) : utf8);
}


Datum QxtTextDatums::get(std::uint32_t id) {
  MemoryContext old = MemoryContextSwitchTo(cxt_);
  if (id >= n_) {
    std::size_t want = id + 64;
    datums_ = datums_ ? static_cast<Datum*>(repalloc(datums_, sizeof(Datum) * want))
                      : static_cast<Datum*>(palloc(sizeof(Datum) * want));
    done_ = done_ ? static_cast<bool*>(repalloc(done_, want)) : static_cast<bool*>(palloc(want));
    for (std::size_t k = n_; k < want; ++k) done_[k] = false;
    n_ = want;
  }
  if (!done_[id]) {
    std::string_view sv = job_->text(id);
    datums_[id] = qxt_vendor_text(sv.data(), sv.size());
    done_[id] = true;
  }
  MemoryContextSwitchTo(old);
  return datums_[id];
}
