// Chinese mobile-number normalisation: the one rule shared by
// qxt_normalize_mobile() and every lookup (a number it rejects is never sent).
#pragma once

#include "core_only.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace qxt {

inline constexpr std::size_t kMobileDigits = 11;

// Writes the 11-digit form of `input` into `out` and returns true, or returns
// false when `input` cannot be a Chinese mobile number.  Accepted: optional
// surrounding ASCII whitespace; an optional country prefix "+86", "0086" or
// "86" (the bare "86" only when 13 digits remain in all); spaces, dashes and
// dots between digit groups.  The result always matches ^1[3-9][0-9]{9}$.
bool normalize_mobile(std::string_view input, char (&out)[kMobileDigits]);

// Convenience form of the above.
std::optional<std::string> normalize_mobile(std::string_view input);

// An 11-digit normalised number as an integer (for hashing and compact
// storage) and back.  `digits` must be a normalize_mobile() result.
std::uint64_t mobile_to_key(std::string_view digits);
std::string key_to_mobile(std::uint64_t key);
// The 11 digits of a key below 10^11 (zero-padded), without allocating.
void key_to_digits(std::uint64_t key, char (&out)[kMobileDigits]) noexcept;

}  // namespace qxt
