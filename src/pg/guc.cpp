// Settings (GUCs) under the reserved prefix "qxt.".
#include "qxt_pg.hpp"

namespace {

bool check_base_url(char** newval, void** extra, GucSource source) {
  const char* v = *newval;
  if (v == nullptr) return true;
  if (std::strncmp(v, "http://", 7) != 0 && std::strncmp(v, "https://", 8) != 0) {
    GUC_check_errdetail("qxt.base_url must start with http:// or https://.");
    return false;
  }
  for (const char* p = v; *p; ++p) {
    if (static_cast<unsigned char>(*p) <= ' ' || *p == '?' || *p == '#') {
      GUC_check_errdetail("qxt.base_url must be a plain URL without spaces, query or fragment.");
      return false;
    }
  }
  return true;
}

}  // namespace

QxtGucs qxt_gucs;

void qxt_guc_init(void) {
  qxt_apikey_guc_init();  // qxt.apikey and qxt.apikey_file (apikey.cpp)
  DefineCustomStringVariable(
      "qxt.base_url", "Base URL of the QXT API; /carrier, /carrier_batch and /balance are appended.",
      nullptr, &qxt_gucs.base_url, "https://isp.qxt800.com", PGC_SUSET, 0, check_base_url, nullptr,
      nullptr);
  DefineCustomStringVariable("qxt.ca_file",
                             "File of CA certificates used to verify the vendor (empty: the system store).",
                             nullptr, &qxt_gucs.ca_file, "", PGC_SUSET, 0, nullptr, nullptr, nullptr);
  DefineCustomStringVariable("qxt.proxy",
                             "HTTP(S) proxy for vendor requests (empty: connect directly).",
                             nullptr, &qxt_gucs.proxy, "", PGC_SUSET, GUC_SUPERUSER_ONLY, nullptr,
                             nullptr, nullptr);
  DefineCustomBoolVariable("qxt.tls_verify",
                           "Verify the vendor's TLS certificate and host name.", nullptr,
                           &qxt_gucs.tls_verify, true, PGC_SUSET, 0, nullptr, nullptr, nullptr);
  DefineCustomBoolVariable("qxt.reuse_connections",
                           "Keep connections to the vendor alive and reuse them across calls.",
                           "Turn off only to diagnose a proxy or load balancer that mishandles "
                           "kept-alive connections: every request then pays a new connection.",
                           &qxt_gucs.reuse_connections, true, PGC_USERSET, 0, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("qxt.timeout_ms", "Time limit of one request to the vendor.", nullptr,
                          &qxt_gucs.timeout_ms, 10000, 100, 600000, PGC_USERSET, GUC_UNIT_MS, nullptr,
                          nullptr, nullptr);
  DefineCustomIntVariable("qxt.connect_timeout_ms", "Time limit to connect to the vendor.",
                          nullptr, &qxt_gucs.connect_timeout_ms, 3000, 10, 60000, PGC_USERSET,
                          GUC_UNIT_MS, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("qxt.max_retries",
                          "Further attempts after a transient failure (network, HTTP 5xx/429, vendor -8).",
                          nullptr, &qxt_gucs.max_retries, 2, 0, 10, PGC_USERSET, 0, nullptr, nullptr,
                          nullptr);
  DefineCustomIntVariable("qxt.batch_size", "Numbers per batch request (the vendor allows 1000).",
                          nullptr, &qxt_gucs.batch_size, 1000, 1, 1000, PGC_USERSET, 0, nullptr, nullptr,
                          nullptr);
  DefineCustomIntVariable("qxt.batch_concurrency",
                          "Batch requests in flight at once, each on its own connection.", nullptr,
                          &qxt_gucs.batch_concurrency, 4, 1, 16, PGC_USERSET, 0, nullptr, nullptr,
                          nullptr);
  DefineCustomIntVariable("qxt.progress_interval_ms",
                          "Least time between two progress NOTICEs of qxt_refresh.",
                          "0 reports after every batch window.", &qxt_gucs.progress_interval_ms, 5000,
                          0, 3600000, PGC_USERSET, GUC_UNIT_MS, nullptr, nullptr, nullptr);
  DefineCustomIntVariable(
      "qxt.cache_max_age",
      "Answer lookups from qxt_lookups when its row is younger than this (-1: never).",
      "Off by default: every call is a live, paid lookup. The functions only read "
      "qxt_lookups (the caller needs SELECT on it); qxt_refresh fills it.",
      &qxt_gucs.cache_max_age_s, -1, -1, INT_MAX, PGC_USERSET, GUC_UNIT_S, nullptr, nullptr, nullptr);
  DefineCustomIntVariable(
      "qxt.max_inflight",
      "Requests to the vendor in flight at once across all backends, per vendor account.",
      "Needs qxt_portability in shared_preload_libraries; without it each backend only "
      "keeps to its own qxt.batch_concurrency.",
      &qxt_gucs.max_inflight, 16, 1, 1024, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
  DefineCustomIntVariable(
      "qxt.max_requests_per_s",
      "Requests to the vendor started per second across all backends, per vendor account "
      "(0: unlimited).",
      "Needs qxt_portability in shared_preload_libraries. Requests are spaced evenly, "
      "1/N second apart.",
      &qxt_gucs.max_requests_per_s, 0, 0, 100000, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
  DefineCustomIntVariable(
      "qxt.statement_budget",
      "Most numbers one statement may send for paid lookups (-1: unlimited).",
      "A request that would go past it is not sent and the statement fails with QX201. "
      "Superuser-set: give each role its own with ALTER ROLE ... SET.",
      &qxt_gucs.statement_budget, -1, -1, INT_MAX, PGC_SUSET, 0, nullptr, nullptr, nullptr);
  DefineCustomIntVariable(
      "qxt.daily_budget",
      "Most numbers a role may send for paid lookups per day, across its sessions (-1: unlimited).",
      "Counted per session user and day (log_timezone) in shared memory: needs "
      "qxt_portability in shared_preload_libraries, and paid lookups refuse without it. "
      "A request that would go past it fails with QX202.",
      &qxt_gucs.daily_budget, -1, -1, INT_MAX, PGC_SUSET, 0, nullptr, nullptr, nullptr);
  MarkGUCPrefixReserved("qxt");
}

QxtGucSnapshot qxt_guc_snapshot(void) {
  QxtGucSnapshot g;
  static_cast<QxtGucs&>(g) = qxt_gucs;
  // The key in use (apikey.cpp); raises when it is misconfigured.  Every
  // entry point takes a snapshot before its core call, so this is also
  // where the backend's teardown is registered (session.cpp).
  g.apikey = qxt_apikey();
  qxt_session_attach();
  g.gate = qxt_gate_params(g.apikey);
  return g;
}

qxt::Settings qxt_core_settings(const QxtGucSnapshot& g) {
  qxt::Settings s;
  s.apikey = g.apikey;
  std::string url = g.base_url ? g.base_url : "";
  while (!url.empty() && url.back() == '/') url.pop_back();
  s.http.base_url = std::move(url);
  s.http.ca_file = g.ca_file ? g.ca_file : "";
  s.http.proxy = g.proxy ? g.proxy : "";
  s.http.timeout_ms = g.timeout_ms;
  s.http.connect_timeout_ms = g.connect_timeout_ms;
  s.http.max_retries = g.max_retries;
  s.http.concurrency = g.batch_concurrency;
  s.http.tls_verify = g.tls_verify;
  s.http.reuse_connections = g.reuse_connections;
  s.batch_size = static_cast<std::size_t>(g.batch_size);
  return s;
}
