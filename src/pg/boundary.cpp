// The C++ / PostgreSQL error boundary, and C++ jobs owned by a memory
// context.  See qxt_pg.hpp.
#include <malloc.h>

#include "convert.hpp"
#include "qxt_pg.hpp"
#include "stats.hpp"

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

void delete_owned_job(void* arg) {
  auto* owned = static_cast<QxtOwnedJob*>(arg);
  qxt::BatchJob* job = owned->job;
  owned->job = nullptr;
  const bool large = job != nullptr && job->distinct() > 65536;
  delete job;
  if (large) malloc_trim(0);
}

}  // namespace

QxtOwnedJob* qxt_owned_job(MemoryContext cxt) {
  auto* owned = static_cast<QxtOwnedJob*>(MemoryContextAllocZero(cxt, sizeof(QxtOwnedJob)));
  owned->cb.func = delete_owned_job;
  owned->cb.arg = owned;
  MemoryContextRegisterResetCallback(cxt, &owned->cb);
  return owned;
}

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
  // Counted first (qxt_stat_errors): whatever follows does not return.  A
  // cancel or statement_timeout is 57014; a terminate ends the session (57P01).
  qxt_stats_error(f->cancelled ? (qxt_terminate_requested() ? "57P01" : "57014") : f->sqlstate);
  if (f->cancelled) {
    // The core only noticed the flags; let PostgreSQL act on them.
    CHECK_FOR_INTERRUPTS();
    ereport(ERROR, (errcode(ERRCODE_QUERY_CANCELED),
                    errmsg("canceling statement due to user request")));
  }
  const char* s = f->sqlstate;
  int code = MAKE_SQLSTATE(s[0], s[1], s[2], s[3], s[4]);
  // Texts in the database encoding (the vendor's reasons are Chinese).
  const char* message = qxt_to_server(f->message);
  const char* detail = qxt_to_server(f->detail);
  const char* hint = qxt_to_server(f->hint);
  ereport(ERROR, (errcode(code), errmsg("%s", message), detail[0] ? errdetail("%s", detail) : 0,
                  hint[0] ? errhint("%s", hint) : 0));
}
