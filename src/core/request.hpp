// Request bodies for the three endpoints.  The key always travels in the
// POST body, never in a URL.
#pragma once

#include "core_only.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace qxt {

// application/x-www-form-urlencoded body "apikey=...&mobile=..." for
// /carrier (mobile non-empty) or "apikey=..." for /balance (mobile empty).
std::string form_body(std::string_view apikey, std::string_view mobile);

// The /carrier_batch JSON body {"ApiKey":"...","PhoneNumbers":["...",...]}
// for `n` normalised numbers given as mobile_to_key() values.
std::string batch_body(std::string_view apikey, const std::uint64_t* keys, std::size_t n);

}  // namespace qxt
