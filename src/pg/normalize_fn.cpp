// qxt_normalize_mobile(text): the normalisation the lookups apply, no network.
#include "qxt_pg.hpp"

extern "C" {
PG_FUNCTION_INFO_V1(qxt_normalize_mobile);
}

Datum qxt_normalize_mobile(PG_FUNCTION_ARGS) {
  text* arg = PG_GETARG_TEXT_PP(0);
  char digits[qxt::kMobileDigits];
  if (!qxt::normalize_mobile(
          std::string_view(VARDATA_ANY(arg), static_cast<std::size_t>(VARSIZE_ANY_EXHDR(arg))),
          digits))
    PG_RETURN_NULL();
  PG_RETURN_TEXT_P(cstring_to_text_with_len(digits, qxt::kMobileDigits));
}
