// qxt_normalize_mobile(text): the normalisation the lookups apply, no network.
#include "convert.hpp"
#include "qxt_pg.hpp"

extern "C" {
PG_FUNCTION_INFO_V1(qxt_normalize_mobile);
}

Datum qxt_normalize_mobile(PG_FUNCTION_ARGS) {
  char digits[qxt::kMobileDigits];
  if (!qxt::normalize_mobile(qxt_text_view(PG_GETARG_TEXT_PP(0)), digits)) PG_RETURN_NULL();
  PG_RETURN_DATUM(qxt_digits_text(digits));
}
