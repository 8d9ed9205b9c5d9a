// PLACEHOLDER until the stats branch is merged (it replaces this file).
#include "stats.hpp"
void qxt_stats_init(void) {}
bool qxt_stats_active(void) { return false; }
void qxt_stats_add(QxtStatEndpoint, const QxtStatDelta&) noexcept {}
void qxt_stats_error(const char*) noexcept {}
