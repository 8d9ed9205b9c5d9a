// Module entry: PG_MODULE_MAGIC and _PG_init, which only calls each part's init.
#include "qxt_pg.hpp"
#include "spi.hpp"
#include "stats.hpp"

extern "C" {
PG_MODULE_MAGIC;
void _PG_init(void);
}

void _PG_init(void) {
  qxt_guc_init();
  qxt_statement_init();
  qxt_spi_init();
  qxt_governor_init();
  // Shared memory for the usage statistics (only when preloaded).
  qxt_stats_init();
  // Installed last, so its ProcessUtility hook is the outermost of ours: it
  // must see (and mask or refuse) a statement holding the key before any
  // other hook does.
  qxt_utility_guard_init();
}
