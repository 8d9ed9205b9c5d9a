// The C++ / PostgreSQL error boundary.  See qxt_pg.hpp.
#include "qxt_pg.hpp"

extern "C" {
#include "catalog/namespace.h"
}

namespace {

void copy_text(char* dst, std::size_t cap, const char* src) noexcept {
  if (src == nullptr) src = "";
  std::size_t n = std::strlen(src);
  if (n >= cap) {
    n = cap - 1;
    // Never cut a UTF-8 character in half.
    while (n > 0 && (static_cast<unsigned char>(src[n]) & 0xC0) == 0x80) --n;
  }
  std::memcpy(dst, src, n);
  dst[n] = '\0';
}

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

const char* qxt_to_server(const char* utf8) { return to_server(utf8); }

void qxt_failure_capture(QxtFailure* f, const qxt::Error& e) noexcept {
  f->failed = true;
  f->cancelled = e.kind == qxt::ErrorKind::Cancelled;
  copy_text(f->sqlstate, sizeof f->sqlstate, e.sqlstate.size() == 5 ? e.sqlstate.c_str() : "XX000");
  copy_text(f->message, sizeof f->message, e.message.c_str());
  copy_text(f->detail, sizeof f->detail, e.detail.c_str());
  // How the key is set is the glue's business (apikey.cpp): ALTER SYSTEM SET
  // qxt.apikey is refused.
  copy_text(f->hint, sizeof f->hint,
            e.kind == qxt::ErrorKind::NoApiKey
                ? "A superuser sets qxt.apikey_file to a file holding the key, owned by the "
                  "server's operating-system user with mode 0600; see the README's Security "
                  "section."
                : e.hint.c_str());
}

void qxt_failure_capture_text(QxtFailure* f, const char* what) noexcept {
  f->failed = true;
  f->cancelled = false;
  copy_text(f->sqlstate, sizeof f->sqlstate, "XX000");
  copy_text(f->message, sizeof f->message, "internal error in qxt_portability");
  copy_text(f->detail, sizeof f->detail, what);
  copy_text(f->hint, sizeof f->hint, "Please report this as a bug of qxt_portability.");
}

void qxt_failure_raise(const QxtFailure* f) {
  if (!f->failed) return;
  if (f->cancelled) {
    // The core only noticed the flags; let PostgreSQL act on them.
    CHECK_FOR_INTERRUPTS();
    ereport(ERROR, (errcode(ERRCODE_QUERY_CANCELED),
                    errmsg("canceling statement due to user request")));
  }
  const char* s = f->sqlstate;
  int code = MAKE_SQLSTATE(s[0], s[1], s[2], s[3], s[4]);
  // Texts in the database encoding (the vendor's reasons are Chinese).
  const char* message = to_server(f->message);
  const char* detail = to_server(f->detail);
  const char* hint = to_server(f->hint);
  ereport(ERROR, (errcode(code), errmsg("%s", message), detail[0] ? errdetail("%s", detail) : 0,
                  hint[0] ? errhint("%s", hint) : 0));
}
