// The C++ / PostgreSQL error boundary.  See qxt_pg.hpp.
#include "qxt_pg.hpp"

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

}  // namespace

void qxt_failure_capture(QxtFailure* f, const qxt::Error& e) noexcept {
  f->failed = true;
  f->cancelled = e.kind == qxt::ErrorKind::Cancelled;
  copy_text(f->sqlstate, sizeof f->sqlstate, e.sqlstate.size() == 5 ? e.sqlstate.c_str() : "XX000");
  copy_text(f->message, sizeof f->message, e.message.c_str());
  copy_text(f->detail, sizeof f->detail, e.detail.c_str());
  copy_text(f->hint, sizeof f->hint, e.hint.c_str());
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
  ereport(ERROR, (errcode(code), errmsg("%s", f->message),
                  f->detail[0] ? errdetail("%s", f->detail) : 0,
                  f->hint[0] ? errhint("%s", f->hint) : 0));
}
