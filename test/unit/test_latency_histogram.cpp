// The latency histogram behind qxt_stat's p50/p95/p99_ms: every quantile
// within 5 % of the exact one, for narrow, wide, skewed and two-valued
// distributions, and its limits.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "latency_histogram.hpp"

using qxt::LatencyHistogram;

namespace {

// Nearest-rank quantile of the sorted sample.
double exact(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  std::size_t rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
  if (rank < 1) rank = 1;
  return v[rank - 1];
}

void expect_close(const std::vector<double>& sample, const char* what) {
  LatencyHistogram h;
  h.clear();
  for (double x : sample) h.add(x);
  ASSERT_EQ(h.count(), sample.size()) << what;
  for (double q : {0.5, 0.95, 0.99}) {
    const double want = exact(sample, q);
    const double got = h.quantile(q);
    EXPECT_LE(std::fabs(got - want), 0.05 * want) << what << " q=" << q << " want " << want
                                                  << " got " << got;
  }
}

}  // namespace

TEST(LatencyHistogram, QuantilesWithinFivePercent) {
  std::mt19937_64 rng(12);
  {
    std::lognormal_distribution<double> d(std::log(100.0), 0.3);  // ~100 ms lookups
    std::vector<double> v(20000);
    for (double& x : v) x = d(rng);
    expect_close(v, "lognormal 100 ms");
  }
  {
    std::lognormal_distribution<double> d(std::log(1500.0), 1.0);  // wide batch latencies
    std::vector<double> v(5000);
    for (double& x : v) x = d(rng);
    expect_close(v, "lognormal 1.5 s, wide");
  }
  {
    std::uniform_real_distribution<double> d(0.2, 0.3);  // loopback
    std::vector<double> v(3000);
    for (double& x : v) x = d(rng);
    expect_close(v, "uniform 0.2-0.3 ms");
  }
  {
    std::exponential_distribution<double> d(1.0 / 50);
    std::vector<double> v(10000);
    for (double& x : v) x = 5 + d(rng);
    expect_close(v, "exponential tail");
  }
  {
    std::vector<double> v;  // two values: 90 % fast, 10 % slow
    for (int i = 0; i < 900; ++i) v.push_back(80);
    for (int i = 0; i < 100; ++i) v.push_back(3000);
    expect_close(v, "two values");
  }
  {
    std::vector<double> v(7, 123.456);  // one value, few samples
    expect_close(v, "one value");
  }
  {
    std::vector<double> v{0.001, 0.002, 0.004};  // below the first bucket: between min and max
    LatencyHistogram h;
    h.clear();
    for (double x : v) h.add(x);
    EXPECT_GE(h.quantile(0.5), 0.001);
    EXPECT_LE(h.quantile(0.5), 0.004);
  }
  {
    std::vector<double> v{2e6, 3e6, 4e6};  // above the last bucket (clamped to the max seen)
    LatencyHistogram h;
    h.clear();
    for (double x : v) h.add(x);
    EXPECT_EQ(h.quantile(0.99), 4e6);
  }
}

TEST(LatencyHistogram, BucketsAreOrderedAndTight) {
  for (int i = 1; i < LatencyHistogram::kRegular; ++i) {
    const double lo = LatencyHistogram::lower_bound(i);
    const double hi = LatencyHistogram::lower_bound(i + 1);
    ASSERT_LT(lo, hi);
    ASSERT_LE(hi / lo, 1.045);
    EXPECT_EQ(LatencyHistogram::bucket_of(lo), i);
    EXPECT_EQ(LatencyHistogram::bucket_of(std::nextafter(hi, 0.0)), i);
  }
  EXPECT_EQ(LatencyHistogram::bucket_of(0), 0);
  EXPECT_EQ(LatencyHistogram::bucket_of(std::nan("")), 0);
  EXPECT_EQ(LatencyHistogram::bucket_of(1e300), LatencyHistogram::kBuckets - 1);
}

TEST(LatencyHistogram, EmptyIgnoredAndSaturation) {
  LatencyHistogram h;
  h.clear();
  EXPECT_LT(h.quantile(0.5), 0);
  h.add(-1);
  h.add(std::nan(""));
  h.add(INFINITY);
  EXPECT_TRUE(h.empty());
  EXPECT_TRUE(h.plausible());
  h.add(10);
  h.add(1000);
  h.buckets[LatencyHistogram::bucket_of(10)] = UINT32_MAX;  // one more would wrap
  h.add(10);
  EXPECT_EQ(h.buckets[LatencyHistogram::bucket_of(10)], UINT32_MAX / 2 + 2);
  EXPECT_EQ(h.buckets[LatencyHistogram::bucket_of(1000)], 1u);
  EXPECT_NEAR(h.quantile(0.5), 10, 0.5);
  EXPECT_TRUE(h.plausible());
  h.min_ms = 50;  // a min that no bucket holds: not something add() makes
  EXPECT_FALSE(h.plausible());
  h.min_ms = NAN;
  EXPECT_FALSE(h.plausible());
}
