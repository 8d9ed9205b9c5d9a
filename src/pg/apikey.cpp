// The vendor key: the settings qxt.apikey and qxt.apikey_file, and
// qxt_apikey(), the one function the rest of the glue calls to get the key
// actually in use.
//
// Who may read the key: superusers and the server's OS account, nobody else
// (README, "Security").  So:
//  - qxt.apikey is superuser-only, hidden from SHOW ALL and pg_settings for
//    everyone (GUC_NO_SHOW_ALL), and SHOW / current_setting() print a mask,
//    for everyone, superusers included (the show hook).
//  - qxt.apikey_file names a file holding the key: it never passes through
//    SQL text, a statement log or a configuration reload.  It must belong to
//    the server's OS user and grant nothing to group or others, like
//    ssl_key_file.  It is read when a key is needed and read again when it
//    changes, so rotating the key needs no restart.
//  - A key stored as a role, database or function setting is refused (those
//    are readable by every role); see also utility_guard.cpp.
//  - A key in a configuration file (postgresql.conf, ALTER SYSTEM's
//    postgresql.auto.conf, or the server's command line) is readable by every
//    role, with SHOW qxt.apikey, in any session that has not loaded this
//    library: PostgreSQL keeps it there as a placeholder setting without any
//    protection.  Such a key is used only when the library is loaded at
//    server start (shared_preload_libraries) or session start
//    (session_preload_libraries); otherwise it is refused with F0000.
#include <cerrno>

#include "qxt_pg.hpp"

extern "C" {
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog/pg_authid.h"
#include "storage/fd.h"
#include "utils/acl.h"
#include "utils/guc_tables.h"
#include "utils/varlena.h"
}

namespace {

char* g_apikey = nullptr;       // qxt.apikey
char* g_apikey_file = nullptr;  // qxt.apikey_file
config_generic* g_apikey_conf = nullptr;  // PostgreSQL's record of qxt.apikey
bool g_loaded_in_postmaster = false;

constexpr std::size_t kMaxKeyFileBytes = 4096;
constexpr std::size_t kMaxKeyChars = 256;

// The key last read from the file, and what identifies that version of the
// file: a change of any of these means "read it again".
struct KeyFileCache {
  bool valid = false;
  char path[MAXPGPATH] = {};
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = 0;
  struct timespec mtime = {};
  struct timespec ctime = {};
  char key[kMaxKeyChars + 1] = {};
};
KeyFileCache g_file;

const char* show_apikey(void) {
  return g_apikey != nullptr && g_apikey[0] != '\0' ? "********" : "";
}

// Role and database settings are readable by every user (pg_roles.rolconfig,
// pg_db_role_setting), function settings too (pg_proc.proconfig): refuse the
// key there when ALTER ROLE / ALTER DATABASE / CREATE FUNCTION validates it
// (PGC_S_TEST; utility_guard.cpp refuses these statements first, this is the
// backstop), and refuse to apply a value stored there anyway by a session
// where the library was not loaded.  A session's own SET (or set_config())
// is allowed for superusers; the value is masked in pg_stat_activity and
// in the statement texts pg_stat_statements may keep, or refused where it
// cannot be (qxt_guard_key_value).
bool check_apikey(char** newval, void** extra, GucSource source) {
  if (*newval == nullptr || (*newval)[0] == '\0') return true;
  switch (source) {
    case PGC_S_TEST:
    case PGC_S_DATABASE:
    case PGC_S_USER:
    case PGC_S_DATABASE_USER:
      GUC_check_errcode(ERRCODE_INSUFFICIENT_PRIVILEGE);
      GUC_check_errmsg("qxt.apikey cannot be stored as a role, database or function setting");
      GUC_check_errdetail(
          "Such settings are visible to every user in pg_roles.rolconfig, "
          "pg_db_role_setting or pg_proc.proconfig.");
      GUC_check_errhint(
          "Put the key in a file that only the server's operating-system user can read "
          "and set qxt.apikey_file to its path (ALTER SYSTEM SET qxt.apikey_file = '...', "
          "then SELECT pg_reload_conf()).");
      return false;
    case PGC_S_SESSION:
      qxt_guard_key_value(*newval);
      return true;
    default:
      return true;
  }
}

// True when the library was loaded before any query of this session could
// run: at server start (shared_preload_libraries) or at session start
// (session_preload_libraries; superuser-only, so a role cannot drop it).
// Only then has no session ever held qxt.apikey as an unprotected
// placeholder.
bool library_listed(const char* setting) {
  const char* v = GetConfigOption(setting, true, false);
  if (v == nullptr || v[0] == '\0') return false;
  char* copy = pstrdup(v);
  List* elems = nullptr;
  bool found = false;
  if (SplitDirectoriesString(copy, ',', &elems)) {
    ListCell* lc;
    foreach (lc, elems) {
      const char* e = static_cast<const char*>(lfirst(lc));
      const char* base = std::strrchr(e, '/');
      base = base ? base + 1 : e;
      std::size_t n = std::strlen(base);
      if (n > 3 && std::strcmp(base + n - 3, ".so") == 0) n -= 3;
      if (n == std::strlen("qxt_portability") && std::strncmp(base, "qxt_portability", n) == 0)
        found = true;
    }
  }
  list_free_deep(elems);
  pfree(copy);
  return found;
}

bool loaded_at_start(void) {
  return g_loaded_in_postmaster || library_listed("shared_preload_libraries") ||
         library_listed("session_preload_libraries");
}

// The key file's name as errors show it: qxt.apikey_file is hidden from
// roles that may not read settings (a granted analyst sees the error, not
// where the server keeps its key).
const char* shown_path(const char* path) {
  if (!has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_SETTINGS)) return "";
  return psprintf(" \"%s\"", path);
}

[[noreturn]] void key_file_error(const char* path, const char* msg, const char* detail,
                                 const char* hint) {
  ereport(ERROR, (errcode(ERRCODE_CONFIG_FILE_ERROR),
                  errmsg("qxt.apikey_file%s %s", shown_path(path), msg),
                  detail ? errdetail("%s", detail) : 0, hint ? errhint("%s", hint) : 0));
  pg_unreachable();
}

const char* kFileHint =
    "The file holds the vendor key on one line, belongs to the server's operating-system "
    "user and is readable by that user only (chmod 600).";

bool same_time(const struct timespec& a, const struct timespec& b) {
  return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

// Reads (or reuses) the key of the file at `path`.  Raises F0000 when the
// file is missing, not a regular file, not the server user's own, open to
// group or others, or does not hold one line of key.  Never prints the
// file's content.
const char* key_from_file(const char* path) {
  int fd = OpenTransientFile(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    const char* shown = shown_path(path);
    errno = err;
    ereport(ERROR, (errcode(ERRCODE_CONFIG_FILE_ERROR),
                    errmsg("could not open qxt.apikey_file%s: %m", shown),
                    errhint("%s A relative path is relative to the data directory.", kFileHint)));
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    CloseTransientFile(fd);
    const char* shown = shown_path(path);
    errno = err;
    ereport(ERROR, (errcode(ERRCODE_CONFIG_FILE_ERROR),
                    errmsg("could not examine qxt.apikey_file%s: %m", shown)));
  }
  if (!S_ISREG(st.st_mode)) {
    CloseTransientFile(fd);
    key_file_error(path, "is not a regular file", nullptr, kFileHint);
  }
  if (st.st_uid != geteuid()) {
    CloseTransientFile(fd);
    char detail[160];
    snprintf(detail, sizeof detail, "It belongs to user ID %u; the server runs as user ID %u.",
             static_cast<unsigned>(st.st_uid), static_cast<unsigned>(geteuid()));
    key_file_error(path, "must belong to the database server's operating-system user", detail,
                   kFileHint);
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    CloseTransientFile(fd);
    char detail[160];
    snprintf(detail, sizeof detail,
             "Its permissions are %04o; group and others must have none (u=rw (0600) or "
             "u=r (0400)).",
             static_cast<unsigned>(st.st_mode & 07777));
    key_file_error(path, "is accessible to group or others", detail, kFileHint);
  }
  if (g_file.valid && std::strcmp(g_file.path, path) == 0 && g_file.dev == st.st_dev &&
      g_file.ino == st.st_ino && g_file.size == st.st_size && same_time(g_file.mtime, st.st_mtim) &&
      same_time(g_file.ctime, st.st_ctim)) {
    CloseTransientFile(fd);
    return g_file.key;
  }
  g_file.valid = false;
  if (static_cast<std::size_t>(st.st_size) > kMaxKeyFileBytes) {
    CloseTransientFile(fd);
    char detail[160];
    snprintf(detail, sizeof detail, "It has %lld bytes; a key file has at most %zu.",
             static_cast<long long>(st.st_size), kMaxKeyFileBytes);
    key_file_error(path, "is too large to hold a key", detail, kFileHint);
  }
  char buf[kMaxKeyFileBytes + 2];
  std::size_t len = 0;
  for (;;) {
    ssize_t r = read(fd, buf + len, sizeof buf - 1 - len);
    if (r < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      CloseTransientFile(fd);
      explicit_bzero(buf, sizeof buf);
      const char* shown = shown_path(path);
      errno = err;
      ereport(ERROR, (errcode(ERRCODE_CONFIG_FILE_ERROR),
                      errmsg("could not read qxt.apikey_file%s: %m", shown)));
    }
    if (r == 0 || len + static_cast<std::size_t>(r) >= sizeof buf - 1) {
      len += static_cast<std::size_t>(r);
      break;
    }
    len += static_cast<std::size_t>(r);
  }
  CloseTransientFile(fd);

  // Surrounding white space (a trailing newline above all) is not the key.
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  std::size_t b = 0, e = len;
  while (b < e && space(buf[b])) ++b;
  while (e > b && space(buf[e - 1])) --e;
  const char* problem = nullptr;
  if (len > kMaxKeyFileBytes)
    problem = "is too large to hold a key";
  else if (b == e)
    problem = "is empty";
  else if (e - b > kMaxKeyChars)
    problem = "holds a line too long to be a key";
  else {
    for (std::size_t i = b; i < e && problem == nullptr; ++i) {
      unsigned char c = static_cast<unsigned char>(buf[i]);
      if (c == '\n' || c == '\r')
        problem = "holds more than one line";
      else if (c < 0x20 || c == 0x7f)
        problem = "holds control characters";
    }
  }
  if (problem != nullptr) {
    explicit_bzero(buf, sizeof buf);
    key_file_error(path, problem, "Its content is not shown.", kFileHint);
  }
  std::memcpy(g_file.key, buf + b, e - b);
  g_file.key[e - b] = '\0';
  explicit_bzero(buf, sizeof buf);
  strlcpy(g_file.path, path, sizeof g_file.path);
  g_file.dev = st.st_dev;
  g_file.ino = st.st_ino;
  g_file.size = st.st_size;
  g_file.mtime = st.st_mtim;
  g_file.ctime = st.st_ctim;
  g_file.valid = true;
  return g_file.key;
}

}  // namespace

void qxt_apikey_guc_init(void) {
  g_loaded_in_postmaster = process_shared_preload_libraries_in_progress;
  DefineCustomStringVariable(
      "qxt.apikey", "API key of the QXT vendor account.",
      "Prefer qxt.apikey_file. Never shown: SHOW prints a mask.", &g_apikey, "", PGC_SUSET,
      GUC_SUPERUSER_ONLY | GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE, check_apikey, nullptr,
      show_apikey);
  DefineCustomStringVariable(
      "qxt.apikey_file",
      "File holding the API key of the QXT vendor account (instead of qxt.apikey).",
      "It must belong to the server's operating-system user and be readable by it only. "
      "A relative path is relative to the data directory. Read again whenever it changes.",
      &g_apikey_file, "", PGC_SUSET, GUC_SUPERUSER_ONLY | GUC_NOT_IN_SAMPLE, nullptr, nullptr,
      nullptr);
  // PostgreSQL's record of qxt.apikey (its source tells where the value came
  // from); DefineCustomStringVariable keeps it at a fixed address.
  config_generic** vars = get_guc_variables();
  const int nvars = GetNumConfigOptions();
  for (int i = 0; i < nvars; ++i)
    if (pg_strcasecmp(vars[i]->name, "qxt.apikey") == 0) g_apikey_conf = vars[i];
}

const char* qxt_apikey(void) {
  const bool have_key = g_apikey != nullptr && g_apikey[0] != '\0';
  const bool have_file = g_apikey_file != nullptr && g_apikey_file[0] != '\0';
  if (have_key && have_file)
    ereport(ERROR,
            (errcode(ERRCODE_CONFIG_FILE_ERROR),
             errmsg("both qxt.apikey and qxt.apikey_file are set"),
             errdetail("Nothing was sent: it is unclear which key is meant."),
             errhint("Set only one of them, e.g. RESET qxt.apikey, or ALTER SYSTEM RESET "
                     "qxt.apikey_file and SELECT pg_reload_conf().")));
  if (have_file) return key_from_file(g_apikey_file);
  if (!have_key) return "";
  const GucSource src = g_apikey_conf ? g_apikey_conf->source : PGC_S_SESSION;
  if ((src == PGC_S_FILE || src == PGC_S_ARGV) && !loaded_at_start())
    ereport(ERROR,
            (errcode(ERRCODE_CONFIG_FILE_ERROR),
             errmsg("qxt.apikey is set in the server configuration, where every role can read it"),
             errdetail("In a session that has not loaded qxt_portability, PostgreSQL shows a "
                       "configured qxt.apikey to anyone (SHOW qxt.apikey). Nothing was sent."),
             errhint("Move the key into a file readable only by the server's operating-system "
                     "user and set qxt.apikey_file instead (then ALTER SYSTEM RESET qxt.apikey, "
                     "or remove it from postgresql.conf, and reload), or add qxt_portability "
                     "to shared_preload_libraries. Consider the key exposed: rotate it.")));
  return g_apikey;
}
