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

// The key as each body carries it: form-encoded (form_body) and as the
// content of a JSON string (batch_body).
std::string form_escaped(std::string_view s);
std::string json_escaped(std::string_view s);

// The /carrier_batch JSON body {"ApiKey":"...","PhoneNumbers":["...",...]}
// for `n` normalised numbers given as mobile_to_key() values.
std::string batch_body(std::string_view apikey, const std::uint64_t* keys, std::size_t n);

}  // namespace qxt
