// Usage statistics (issue 12): the views qxt_stat and qxt_stat_errors, kept
// in shared memory when the library is in shared_preload_libraries.  Free
// of PostgreSQL headers, so the C++ core's glue can include it.  Call only
// from the backend's main thread (the counters sit under an LWLock).
#pragma once
#include <cstdint>
enum class QxtStatEndpoint : int { Carrier = 0, CarrierBatch = 1, Balance = 2 };
struct QxtStatDelta {
  std::int64_t requests = 0, numbers_sent = 0, numbers_paid = 0, memo_hits = 0, cache_hits = 0,
               errors = 0, retries = 0, waits = 0;
  double wait_ms = 0;
  double latency_ms = -1;  // one request's latency; < 0: none to record
};
void qxt_stats_init(void);      // from _PG_init; does its shared-memory work only when process_shared_preload_libraries_in_progress
bool qxt_stats_active(void);    // shared memory attached
// Adds d to the row (MyDatabaseId, GetUserId(), ep).  No-op when not active.  Never raises (it is called inside the C++ core's callbacks: no ereport(ERROR), no exceptions; a full table drops the delta and counts the drop).
void qxt_stats_add(QxtStatEndpoint ep, const QxtStatDelta& d) noexcept;
// Counts an error raised to SQL with this 5-character SQLSTATE for (MyDatabaseId, GetUserId()).  Same rules.
void qxt_stats_error(const char* sqlstate) noexcept;
