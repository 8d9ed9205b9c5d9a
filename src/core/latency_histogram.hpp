// A latency histogram of fixed size and plain data (it lives in shared
// memory and in the statistics file): log-scale buckets, 16 to an octave,
// from 2^-6 ms (~0.016 ms) to 2^20 ms (~17.5 min), plus one bucket below and
// one above.  A bucket spans a ratio of 2^(1/16) (~4.4 %), and a quantile is
// interpolated geometrically inside its bucket and clamped to the smallest
// and largest value seen, so p50/p95/p99 are within 4.4 % of the exact
// value (test/unit/test_latency_histogram.cpp).  Below 2^-6 ms (faster
// than any HTTP exchange) a quantile is only known to lie between the
// smallest and largest value seen.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace qxt {

struct LatencyHistogram {
  static constexpr int kPerOctave = 16;
  static constexpr int kLowExp = -6;   // first regular bucket starts at 2^-6 ms
  static constexpr int kHighExp = 20;  // the overflow bucket starts at 2^20 ms
  static constexpr int kRegular = (kHighExp - kLowExp) * kPerOctave;
  static constexpr int kBuckets = kRegular + 2;  // [0] below, [kBuckets-1] above

  std::uint32_t buckets[kBuckets];
  double min_ms;  // meaningful only when some bucket is non-zero
  double max_ms;

  void clear() noexcept { std::memset(this, 0, sizeof *this); }

  bool empty() const noexcept {
    for (std::uint32_t b : buckets)
      if (b != 0) return false;
    return true;
  }

  static double low() noexcept { return std::ldexp(1.0, kLowExp); }
  static double high() noexcept { return std::ldexp(1.0, kHighExp); }
  // Lower bound of regular bucket i (1 .. kRegular).
  static double lower_bound(int i) noexcept {
    return std::ldexp(std::exp2(static_cast<double>((i - 1) % kPerOctave) / kPerOctave),
                      kLowExp + (i - 1) / kPerOctave);
  }

  static int bucket_of(double ms) noexcept {
    if (!(ms >= low())) return 0;  // also NaN
    if (ms >= high()) return kBuckets - 1;
    int i = 1 + static_cast<int>(std::floor(std::log2(ms / low()) * kPerOctave));
    // log2 may round across a boundary: settle on lower_bound(i) <= ms < lower_bound(i+1).
    if (i < 1) i = 1;
    if (i > kRegular) i = kRegular;
    while (i > 1 && ms < lower_bound(i)) --i;
    while (i < kRegular && ms >= lower_bound(i + 1)) ++i;
    return i;
  }

  // Records one latency (ignored when negative or not finite).
  void add(double ms) noexcept {
    if (!(ms >= 0) || !std::isfinite(ms)) return;
    const bool first = empty();
    std::uint32_t& b = buckets[bucket_of(ms)];
    if (b == UINT32_MAX) halve();  // keeps the shape, hence the quantiles
    ++b;
    if (first || ms < min_ms) min_ms = ms;
    if (first || ms > max_ms) max_ms = ms;
  }

  // Halves every count (rounding up, so no bucket in use empties).
  void halve() noexcept {
    for (std::uint32_t& b : buckets) b = b / 2 + (b & 1);
  }

  std::uint64_t count() const noexcept {
    std::uint64_t n = 0;
    for (std::uint32_t b : buckets) n += b;
    return n;
  }

  // The q-quantile (0 < q <= 1), or a negative value when empty.
  double quantile(double q) const noexcept {
    const std::uint64_t n = count();
    if (n == 0) return -1;
    const double target = q * static_cast<double>(n);
    double cum = 0;
    double v = max_ms;
    for (int i = 0; i < kBuckets; ++i) {
      if (buckets[i] == 0) continue;
      const double c = buckets[i];
      if (cum + c >= target) {
        double frac = (target - cum) / c;
        if (frac < 0) frac = 0;
        if (frac > 1) frac = 1;
        if (i == 0) {
          v = frac * low();
        } else if (i == kBuckets - 1) {
          v = max_ms;
        } else {
          v = lower_bound(i) * std::exp2(frac / kPerOctave);
        }
        break;
      }
      cum += c;
    }
    if (v < min_ms) v = min_ms;
    if (v > max_ms) v = max_ms;
    return v;
  }

  // Whether a histogram read from a file is one this code could have made.
  bool plausible() const noexcept {
    if (empty()) return true;
    return std::isfinite(min_ms) && std::isfinite(max_ms) && min_ms >= 0 && min_ms <= max_ms &&
           buckets[bucket_of(min_ms)] != 0 && buckets[bucket_of(max_ms)] != 0;
  }
};

static_assert(std::is_trivially_copyable<LatencyHistogram>::value &&
                  std::is_standard_layout<LatencyHistogram>::value,
              "LatencyHistogram lives in shared memory and in a file: plain data only");

}  // namespace qxt
