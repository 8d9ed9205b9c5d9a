// Module entry: PG_MODULE_MAGIC and _PG_init, which only calls each part's init.
#include "qxt_pg.hpp"

extern "C" {
PG_MODULE_MAGIC;
void _PG_init(void);
}

void _PG_init(void) {
  qxt_guc_init();
  qxt_utility_guard_init();
}
