// Usage statistics: the rows behind the views qxt_stat and qxt_stat_errors,
// kept in shared memory when the library is in shared_preload_libraries,
// saved at a clean shutdown and loaded at the next start (the pattern of
// contrib/pg_stat_statements).  See stats.hpp for the interface.
//
// Two shared hash tables of fixed capacity, under one LWLock of the tranche
// "qxt_portability stats":
//   - kStatCapacity (4096) rows keyed (database, role, endpoint): counters
//     and a latency histogram (latency_histogram.hpp), ~1.7 kB each, about
//     7 MB of shared memory in all;
//   - kErrorCapacity (1024) rows keyed (database, role, SQLSTATE): a count.
// A full table drops the update and counts the drop; reading the view then
// warns how many were dropped (until qxt_stat_reset()).  An update takes the
// lock exclusively: updates come once per HTTP request (milliseconds apart
// in one backend), so a per-row spinlock would buy nothing measurable.
//
// The file (pg_stat/qxt_portability.stat) holds a header (magic, format,
// record sizes, counts), the records and a CRC-32C of all of it.  It is
// read by the postmaster when it creates the shared memory and removed
// right after, so a crash (which skips the save) starts from empty rather
// than from stale figures.  A file that is not exactly one this code writes
// (another magic, format or layout, a wrong size, a bad checksum,
// implausible values, duplicate rows, more rows than the capacity) is
// ignored with a LOG line.
#include <cmath>
#include <cstdio>

#include <sys/stat.h>
#include <unistd.h>

#include "latency_histogram.hpp"
#include "qxt_pg.hpp"
#include "stats.hpp"

extern "C" {
#include "port/pg_crc32c.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/hsearch.h"

PG_FUNCTION_INFO_V1(qxt_stat_rows);
PG_FUNCTION_INFO_V1(qxt_stat_error_rows);
PG_FUNCTION_INFO_V1(qxt_stat_reset);
PG_FUNCTION_INFO_V1(qxt_stat_test_add);
PG_FUNCTION_INFO_V1(qxt_stat_test_error);
}

namespace {

constexpr long kStatCapacity = 4096;
constexpr long kErrorCapacity = 1024;
constexpr const char* kTranche = "qxt_portability stats";
constexpr const char* kFile = "pg_stat/qxt_portability.stat";
constexpr const char* kTmpFile = "pg_stat/qxt_portability.stat.tmp";
constexpr uint32 kMagic = 0x51585453;  // "QXTS"
constexpr uint32 kFormat = 1;
constexpr int kEndpoints = 3;
const char* const kEndpointNames[kEndpoints] = {"carrier", "carrier_batch", "balance"};

struct StatKey {
  Oid dbid;
  Oid userid;
  int32 endpoint;
  int32 pad;  // always 0: keys are compared as bytes
};

struct StatCounters {
  int64 requests, numbers_sent, numbers_paid, memo_hits, cache_hits, errors, retries, waits;
  double wait_ms;
  qxt::LatencyHistogram latency;
};

struct StatEntry {  // also the file's record
  StatKey key;
  StatCounters c;
};

struct ErrorKey {
  Oid dbid;
  Oid userid;
  char sqlstate[8];  // 5 characters, zero-padded
};

struct ErrorEntry {  // also the file's record
  ErrorKey key;
  int64 count;
};

struct FileHeader {
  uint32 magic;
  uint32 format;
  uint32 stat_record_size;
  uint32 error_record_size;
  uint32 histogram_buckets;
  uint32 n_stat;
  uint32 n_error;
  uint32 pad;
  uint64 dropped_stat;
  uint64 dropped_error;
};

struct SharedState {
  LWLock* lock;
  uint64 dropped_stat;   // updates dropped because a table was full, since start or reset
  uint64 dropped_error;
};

static_assert(std::is_trivially_copyable<StatEntry>::value && std::is_standard_layout<StatEntry>::value,
              "StatEntry is plain data (shared memory, file)");
static_assert(std::is_trivially_copyable<ErrorEntry>::value &&
                  std::is_standard_layout<ErrorEntry>::value,
              "ErrorEntry is plain data (shared memory, file)");
static_assert(sizeof(StatKey) == 16 && sizeof(ErrorKey) == 16, "keys without padding");

SharedState* g_state = nullptr;
HTAB* g_stat_hash = nullptr;
HTAB* g_error_hash = nullptr;
shmem_request_hook_type prev_shmem_request_hook = nullptr;
shmem_startup_hook_type prev_shmem_startup_hook = nullptr;

Size shmem_size() {
  Size size = MAXALIGN(sizeof(SharedState));
  size = add_size(size, hash_estimate_size(kStatCapacity, sizeof(StatEntry)));
  size = add_size(size, hash_estimate_size(kErrorCapacity, sizeof(ErrorEntry)));
  return size;
}

void stats_shmem_request() {
  if (prev_shmem_request_hook) prev_shmem_request_hook();
  RequestAddinShmemSpace(shmem_size());
  RequestNamedLWLockTranche(kTranche, 1);
}

// --- counting -------------------------------------------------------------

void add_sat(int64* into, int64 v) noexcept {
  if (v <= 0) return;  // counters only grow; a negative delta is a caller's bug, ignored
  if (__builtin_add_overflow(*into, v, into)) *into = PG_INT64_MAX;
}

bool valid_sqlstate(const char* s) noexcept {
  for (int i = 0; i < 5; ++i) {
    const char ch = s[i];
    if (!((ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z'))) return false;
  }
  return s[5] == '\0';
}

// Whether this process may take the lock: a backend (or worker) of its
// own, attached to the shared memory.
bool can_update() noexcept { return g_state != nullptr && MyProc != nullptr; }

void add_to(const StatKey& key, const QxtStatDelta& d) noexcept {
  LWLockAcquire(g_state->lock, LW_EXCLUSIVE);
  bool found = false;
  StatEntry* e = nullptr;
  if (hash_get_num_entries(g_stat_hash) < kStatCapacity) {
    e = static_cast<StatEntry*>(hash_search(g_stat_hash, &key, HASH_ENTER_NULL, &found));
  } else {
    e = static_cast<StatEntry*>(hash_search(g_stat_hash, &key, HASH_FIND, &found));
  }
  if (e == nullptr) {
    g_state->dropped_stat++;
    LWLockRelease(g_state->lock);
    return;
  }
  if (!found) {
    std::memset(&e->c, 0, sizeof e->c);
    e->c.latency.clear();
  }
  StatCounters& c = e->c;
  add_sat(&c.requests, d.requests);
  add_sat(&c.numbers_sent, d.numbers_sent);
  add_sat(&c.numbers_paid, d.numbers_paid);
  add_sat(&c.memo_hits, d.memo_hits);
  add_sat(&c.cache_hits, d.cache_hits);
  add_sat(&c.errors, d.errors);
  add_sat(&c.retries, d.retries);
  add_sat(&c.waits, d.waits);
  if (std::isfinite(d.wait_ms) && d.wait_ms > 0) c.wait_ms += d.wait_ms;
  if (d.latency_ms >= 0) c.latency.add(d.latency_ms);
  LWLockRelease(g_state->lock);
}

void count_error(const ErrorKey& key) noexcept {
  LWLockAcquire(g_state->lock, LW_EXCLUSIVE);
  bool found = false;
  ErrorEntry* e = nullptr;
  if (hash_get_num_entries(g_error_hash) < kErrorCapacity) {
    e = static_cast<ErrorEntry*>(hash_search(g_error_hash, &key, HASH_ENTER_NULL, &found));
  } else {
    e = static_cast<ErrorEntry*>(hash_search(g_error_hash, &key, HASH_FIND, &found));
  }
  if (e == nullptr) {
    g_state->dropped_error++;
  } else {
    if (!found) e->count = 0;
    add_sat(&e->count, 1);
  }
  LWLockRelease(g_state->lock);
}

StatKey stat_key(Oid dbid, Oid userid, int endpoint) noexcept {
  StatKey k;
  std::memset(&k, 0, sizeof k);
  k.dbid = dbid;
  k.userid = userid;
  k.endpoint = endpoint;
  return k;
}

ErrorKey error_key(Oid dbid, Oid userid, const char* sqlstate) noexcept {
  ErrorKey k;
  std::memset(&k, 0, sizeof k);
  k.dbid = dbid;
  k.userid = userid;
  std::memcpy(k.sqlstate, valid_sqlstate(sqlstate) ? sqlstate : "XX000", 5);
  return k;
}

// --- the file -------------------------------------------------------------

void clear_tables() {
  HASH_SEQ_STATUS seq;
  hash_seq_init(&seq, g_stat_hash);
  while (auto* e = static_cast<StatEntry*>(hash_seq_search(&seq)))
    hash_search(g_stat_hash, &e->key, HASH_REMOVE, nullptr);
  hash_seq_init(&seq, g_error_hash);
  while (auto* e = static_cast<ErrorEntry*>(hash_seq_search(&seq)))
    hash_search(g_error_hash, &e->key, HASH_REMOVE, nullptr);
  g_state->dropped_stat = 0;
  g_state->dropped_error = 0;
}

bool plausible(const StatEntry& r) {
  const StatCounters& c = r.c;
  return r.key.endpoint >= 0 && r.key.endpoint < kEndpoints && r.key.pad == 0 &&
         c.requests >= 0 && c.numbers_sent >= 0 && c.numbers_paid >= 0 && c.memo_hits >= 0 &&
         c.cache_hits >= 0 && c.errors >= 0 && c.retries >= 0 && c.waits >= 0 &&
         std::isfinite(c.wait_ms) && c.wait_ms >= 0 && c.latency.plausible();
}

bool plausible(const ErrorEntry& r) {
  for (int i = 5; i < 8; ++i)
    if (r.key.sqlstate[i] != '\0') return false;
  return valid_sqlstate(r.key.sqlstate) && r.count >= 0;
}

// Reads the file into the (empty) tables.  Returns nullptr, or why the file
// was not used (the tables are then left empty).
const char* load_file(FILE* f) {
  FileHeader h;
  if (std::fread(&h, sizeof h, 1, f) != 1) return "it is shorter than its header";
  if (h.magic != kMagic) return "it is not a qxt_portability statistics file";
  if (h.format != kFormat || h.stat_record_size != sizeof(StatEntry) ||
      h.error_record_size != sizeof(ErrorEntry) ||
      h.histogram_buckets != qxt::LatencyHistogram::kBuckets)
    return "it was written by another version of qxt_portability";
  if (h.n_stat > kStatCapacity || h.n_error > kErrorCapacity || h.pad != 0)
    return "it holds more rows than the tables";
  struct stat st;
  if (fstat(fileno(f), &st) != 0) return "it cannot be examined";
  const uint64 want = sizeof h + uint64{h.n_stat} * sizeof(StatEntry) +
                      uint64{h.n_error} * sizeof(ErrorEntry) + sizeof(pg_crc32c);
  if (static_cast<uint64>(st.st_size) != want) return "its size does not match its header";

  pg_crc32c crc;
  INIT_CRC32C(crc);
  COMP_CRC32C(crc, &h, sizeof h);
  for (uint32 i = 0; i < h.n_stat; ++i) {
    StatEntry r;
    if (std::fread(&r, sizeof r, 1, f) != 1) return "it is truncated";
    COMP_CRC32C(crc, &r, sizeof r);
    if (!plausible(r)) return "a row holds impossible values";
    bool found = false;
    auto* e = static_cast<StatEntry*>(hash_search(g_stat_hash, &r.key, HASH_ENTER_NULL, &found));
    if (e == nullptr) return "it holds more rows than the tables";
    if (found) return "a row appears twice";
    e->c = r.c;
  }
  for (uint32 i = 0; i < h.n_error; ++i) {
    ErrorEntry r;
    if (std::fread(&r, sizeof r, 1, f) != 1) return "it is truncated";
    COMP_CRC32C(crc, &r, sizeof r);
    if (!plausible(r)) return "a row holds impossible values";
    bool found = false;
    auto* e = static_cast<ErrorEntry*>(hash_search(g_error_hash, &r.key, HASH_ENTER_NULL, &found));
    if (e == nullptr) return "it holds more rows than the tables";
    if (found) return "a row appears twice";
    e->count = r.count;
  }
  FIN_CRC32C(crc);
  pg_crc32c stored;
  if (std::fread(&stored, sizeof stored, 1, f) != 1) return "it is truncated";
  if (!EQ_CRC32C(crc, stored)) return "its checksum does not match (the file is damaged)";
  g_state->dropped_stat = h.dropped_stat;
  g_state->dropped_error = h.dropped_error;
  return nullptr;
}

// In the postmaster, when it creates the shared memory: loads the file, if
// any, and removes it.
void load_at_start() {
  // Only a regular file is opened: a FIFO there would block the postmaster
  // in open() forever, and a directory would never be replaced at shutdown.
  struct stat lst;
  if (lstat(kFile, &lst) != 0) {
    if (errno != ENOENT)
      ereport(LOG, (errcode_for_file_access(),
                    errmsg("qxt_portability: could not read statistics file \"%s\": %m", kFile)));
    return;
  }
  if (!S_ISREG(lst.st_mode)) {
    ereport(LOG, (errmsg("qxt_portability: ignoring statistics file \"%s\": it is not a regular file",
                         kFile),
                  errdetail("The usage statistics (qxt_stat, qxt_stat_errors) start from zero.")));
    if (S_ISDIR(lst.st_mode) ? rmdir(kFile) != 0 : unlink(kFile) != 0)
      ereport(LOG, (errcode_for_file_access(),
                    errmsg("qxt_portability: could not remove \"%s\": %m", kFile)));
    return;
  }
  FILE* f = AllocateFile(kFile, PG_BINARY_R);
  if (f == nullptr) {
    if (errno != ENOENT)
      ereport(LOG, (errcode_for_file_access(),
                    errmsg("qxt_portability: could not read statistics file \"%s\": %m", kFile)));
    return;
  }
  const char* why = load_file(f);
  FreeFile(f);
  if (why != nullptr) {
    clear_tables();
    ereport(LOG, (errmsg("qxt_portability: ignoring statistics file \"%s\": %s", kFile, why),
                  errdetail("The usage statistics (qxt_stat, qxt_stat_errors) start from zero.")));
  }
  unlink(kFile);
}

bool write_all(FILE* f, const void* p, std::size_t n, pg_crc32c* crc) {
  COMP_CRC32C(*crc, p, n);
  return std::fwrite(p, n, 1, f) == 1;
}

// In the postmaster, at exit (on_shmem_exit): saves the tables, at a clean
// shutdown only.  No lock: no backend is left.
void save_at_shutdown(int code, Datum) {
  if (code != 0 || g_state == nullptr) return;
  FILE* f = AllocateFile(kTmpFile, PG_BINARY_W);
  if (f == nullptr) {
    ereport(LOG, (errcode_for_file_access(),
                  errmsg("qxt_portability: could not write statistics file \"%s\": %m", kTmpFile)));
    return;
  }
  FileHeader h;
  std::memset(&h, 0, sizeof h);
  h.magic = kMagic;
  h.format = kFormat;
  h.stat_record_size = sizeof(StatEntry);
  h.error_record_size = sizeof(ErrorEntry);
  h.histogram_buckets = qxt::LatencyHistogram::kBuckets;
  h.n_stat = static_cast<uint32>(hash_get_num_entries(g_stat_hash));
  h.n_error = static_cast<uint32>(hash_get_num_entries(g_error_hash));
  h.dropped_stat = g_state->dropped_stat;
  h.dropped_error = g_state->dropped_error;
  pg_crc32c crc;
  INIT_CRC32C(crc);
  bool ok = write_all(f, &h, sizeof h, &crc);
  HASH_SEQ_STATUS seq;
  hash_seq_init(&seq, g_stat_hash);
  while (auto* e = static_cast<StatEntry*>(hash_seq_search(&seq))) {
    StatEntry r;
    std::memset(&r, 0, sizeof r);  // no stray padding bytes in the file
    r.key = e->key;
    r.c.requests = e->c.requests;
    r.c.numbers_sent = e->c.numbers_sent;
    r.c.numbers_paid = e->c.numbers_paid;
    r.c.memo_hits = e->c.memo_hits;
    r.c.cache_hits = e->c.cache_hits;
    r.c.errors = e->c.errors;
    r.c.retries = e->c.retries;
    r.c.waits = e->c.waits;
    r.c.wait_ms = e->c.wait_ms;
    r.c.latency = e->c.latency;
    if (ok) ok = write_all(f, &r, sizeof r, &crc);
  }
  hash_seq_init(&seq, g_error_hash);
  while (auto* e = static_cast<ErrorEntry*>(hash_seq_search(&seq))) {
    ErrorEntry r;
    std::memset(&r, 0, sizeof r);
    r.key = e->key;
    r.count = e->count;
    if (ok) ok = write_all(f, &r, sizeof r, &crc);
  }
  FIN_CRC32C(crc);
  if (ok) ok = std::fwrite(&crc, sizeof crc, 1, f) == 1;
  if (FreeFile(f) != 0) ok = false;
  if (!ok) {
    ereport(LOG, (errcode_for_file_access(),
                  errmsg("qxt_portability: could not write statistics file \"%s\": %m", kTmpFile)));
    unlink(kTmpFile);
    return;
  }
  (void)durable_rename(kTmpFile, kFile, LOG);
  if (h.dropped_stat > 0 || h.dropped_error > 0)
    ereport(LOG, (errmsg("qxt_portability: the statistics tables were full: %llu updates of "
                         "qxt_stat and %llu of qxt_stat_errors were dropped",
                         static_cast<unsigned long long>(h.dropped_stat),
                         static_cast<unsigned long long>(h.dropped_error))));
}

void stats_shmem_startup() {
  if (prev_shmem_startup_hook) prev_shmem_startup_hook();
  g_state = nullptr;
  g_stat_hash = nullptr;
  g_error_hash = nullptr;

  LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
  bool found = false;
  auto* state = static_cast<SharedState*>(ShmemInitStruct("qxt_portability stats", sizeof(SharedState), &found));
  if (!found) {
    state->lock = &(GetNamedLWLockTranche(kTranche))->lock;
    state->dropped_stat = 0;
    state->dropped_error = 0;
  }
  HASHCTL info;
  std::memset(&info, 0, sizeof info);
  info.keysize = sizeof(StatKey);
  info.entrysize = sizeof(StatEntry);
  g_stat_hash = ShmemInitHash("qxt_portability stat rows", kStatCapacity, kStatCapacity, &info,
                              HASH_ELEM | HASH_BLOBS | HASH_FIXED_SIZE);
  std::memset(&info, 0, sizeof info);
  info.keysize = sizeof(ErrorKey);
  info.entrysize = sizeof(ErrorEntry);
  g_error_hash = ShmemInitHash("qxt_portability stat error rows", kErrorCapacity, kErrorCapacity,
                               &info, HASH_ELEM | HASH_BLOBS | HASH_FIXED_SIZE);
  g_state = state;
  LWLockRelease(AddinShmemInitLock);

  // The postmaster (not a backend attaching under EXEC_BACKEND) saves at
  // its exit; on_shmem_exit callbacks do not survive into its children.
  if (!IsUnderPostmaster) on_shmem_exit(save_at_shutdown, 0);
  if (!found) load_at_start();
}

void require_active() {
  if (g_state == nullptr)
    ereport(ERROR,
            (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
             errmsg("qxt_portability usage statistics are not available"),
             errdetail("The library was not loaded at server start, so nothing is counted."),
             errhint("Add qxt_portability to shared_preload_libraries in postgresql.conf and "
                     "restart the server.")));
}

void warn_dropped(uint64 dropped, const char* view, long capacity) {
  if (dropped == 0) return;
  ereport(WARNING,
          (errmsg("%s is incomplete: %llu updates were dropped because its table of %ld rows "
                  "was full",
                  view, static_cast<unsigned long long>(dropped), capacity),
           errhint("qxt_stat_reset() empties the tables.")));
}

}  // namespace

void qxt_stats_init(void) {
  if (!process_shared_preload_libraries_in_progress) return;
  prev_shmem_request_hook = shmem_request_hook;
  shmem_request_hook = stats_shmem_request;
  prev_shmem_startup_hook = shmem_startup_hook;
  shmem_startup_hook = stats_shmem_startup;
}

bool qxt_stats_active(void) { return g_state != nullptr; }

void qxt_stats_add(QxtStatEndpoint ep, const QxtStatDelta& d) noexcept {
  const int endpoint = static_cast<int>(ep);
  if (!can_update() || endpoint < 0 || endpoint >= kEndpoints) return;
  add_to(stat_key(MyDatabaseId, GetUserId(), endpoint), d);
}

void qxt_stats_error(const char* sqlstate) noexcept {
  if (!can_update() || sqlstate == nullptr) return;
  count_error(error_key(MyDatabaseId, GetUserId(), sqlstate));
}

// qxt_stat_rows(): the rows behind the view qxt_stat.  Who may call it is
// decided by EXECUTE grants (pg_read_all_stats; see the extension script).
Datum qxt_stat_rows(PG_FUNCTION_ARGS) {
  require_active();
  InitMaterializedSRF(fcinfo, 0);
  ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
  LWLockAcquire(g_state->lock, LW_SHARED);
  const uint64 dropped = g_state->dropped_stat;
  HASH_SEQ_STATUS seq;
  hash_seq_init(&seq, g_stat_hash);
  while (auto* e = static_cast<StatEntry*>(hash_seq_search(&seq))) {
    Datum v[15];
    bool n[15] = {false};
    const StatCounters& c = e->c;
    v[0] = ObjectIdGetDatum(e->key.dbid);
    v[1] = ObjectIdGetDatum(e->key.userid);
    v[2] = CStringGetTextDatum(kEndpointNames[e->key.endpoint]);
    v[3] = Int64GetDatum(c.requests);
    v[4] = Int64GetDatum(c.numbers_sent);
    v[5] = Int64GetDatum(c.numbers_paid);
    v[6] = Int64GetDatum(c.memo_hits);
    v[7] = Int64GetDatum(c.cache_hits);
    v[8] = Int64GetDatum(c.errors);
    v[9] = Int64GetDatum(c.retries);
    v[10] = Int64GetDatum(c.waits);
    v[11] = Float8GetDatum(c.wait_ms);
    const double qs[3] = {0.50, 0.95, 0.99};
    for (int i = 0; i < 3; ++i) {
      const double x = c.latency.quantile(qs[i]);
      v[12 + i] = Float8GetDatum(x < 0 ? 0 : x);
      n[12 + i] = x < 0;  // no latency recorded
    }
    tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, n);
  }
  LWLockRelease(g_state->lock);
  warn_dropped(dropped, "qxt_stat", kStatCapacity);
  return (Datum)0;
}

// qxt_stat_error_rows(): the rows behind the view qxt_stat_errors.
Datum qxt_stat_error_rows(PG_FUNCTION_ARGS) {
  require_active();
  InitMaterializedSRF(fcinfo, 0);
  ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
  LWLockAcquire(g_state->lock, LW_SHARED);
  const uint64 dropped = g_state->dropped_error;
  HASH_SEQ_STATUS seq;
  hash_seq_init(&seq, g_error_hash);
  while (auto* e = static_cast<ErrorEntry*>(hash_seq_search(&seq))) {
    Datum v[4];
    bool n[4] = {false, false, false, false};
    v[0] = ObjectIdGetDatum(e->key.dbid);
    v[1] = ObjectIdGetDatum(e->key.userid);
    v[2] = PointerGetDatum(cstring_to_text_with_len(e->key.sqlstate, 5));
    v[3] = Int64GetDatum(e->count);
    tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, n);
  }
  LWLockRelease(g_state->lock);
  warn_dropped(dropped, "qxt_stat_errors", kErrorCapacity);
  return (Datum)0;
}

// qxt_stat_reset(): empties both tables.  EXECUTE is revoked from PUBLIC: a
// superuser may grant it (as with pg_stat_statements_reset()).
Datum qxt_stat_reset(PG_FUNCTION_ARGS) {
  require_active();
  LWLockAcquire(g_state->lock, LW_EXCLUSIVE);
  clear_tables();
  LWLockRelease(g_state->lock);
  PG_RETURN_VOID();
}

// Test-only entry points, not in the extension script: the tests create
// them by hand (a C function needs a superuser to create) until the HTTP
// pool calls qxt_stats_add itself.  Both refuse anyone but a superuser.
//   qxt_stat_test_add(endpoint int4, userid oid (0: current), requests,
//     numbers_sent, numbers_paid, memo_hits, cache_hits, errors, retries,
//     waits int8, wait_ms float8, latency_ms float8)
//   qxt_stat_test_error(sqlstate text, userid oid (0: current))
Datum qxt_stat_test_add(PG_FUNCTION_ARGS) {
  if (!superuser()) ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE), errmsg("superuser only")));
  require_active();
  const int32 ep = PG_GETARG_INT32(0);
  const Oid userid = PG_GETARG_OID(1);
  QxtStatDelta d;
  d.requests = PG_GETARG_INT64(2);
  d.numbers_sent = PG_GETARG_INT64(3);
  d.numbers_paid = PG_GETARG_INT64(4);
  d.memo_hits = PG_GETARG_INT64(5);
  d.cache_hits = PG_GETARG_INT64(6);
  d.errors = PG_GETARG_INT64(7);
  d.retries = PG_GETARG_INT64(8);
  d.waits = PG_GETARG_INT64(9);
  d.wait_ms = PG_GETARG_FLOAT8(10);
  d.latency_ms = PG_GETARG_FLOAT8(11);
  if (userid == InvalidOid) {
    qxt_stats_add(static_cast<QxtStatEndpoint>(ep), d);
  } else if (ep >= 0 && ep < kEndpoints) {
    add_to(stat_key(MyDatabaseId, userid, ep), d);
  }
  PG_RETURN_VOID();
}

Datum qxt_stat_test_error(PG_FUNCTION_ARGS) {
  if (!superuser()) ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE), errmsg("superuser only")));
  require_active();
  const char* s = text_to_cstring(PG_GETARG_TEXT_PP(0));
  const Oid userid = PG_GETARG_OID(1);
  if (userid == InvalidOid)
    qxt_stats_error(s);
  else
    count_error(error_key(MyDatabaseId, userid, s));
  PG_RETURN_VOID();
}
