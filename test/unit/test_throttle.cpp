// The governor's answer to throttling (throttle.hpp), played with sequences
// of answers as the shared governor sees them: each refusal with the number
// of the account's other requests still in flight when it came back.
#include <gtest/gtest.h>

#include "throttle.hpp"

using qxt::Throttle;

namespace {
constexpr int64_t kMs = 1000;
}

TEST(Throttle, ABurstAgainstALimitBringsTheCapToTheLimitWhateverTheOrder) {
  // Eight requests leave at once; the vendor serves 2 and refuses 6 at
  // once, which come back while the 2 are still being served.  Whichever
  // of the eight reached the vendor first, what is left in flight as the
  // refusals come back goes 7, 6, ..., 2.
  Throttle t;
  int inflight = 8;
  for (int i = 0; i < 6; ++i) t.refused(--inflight, 0, -1, 0);
  EXPECT_EQ(inflight, 2);
  EXPECT_EQ(t.cap, 2) << "the vendor's limit, not what the first refusal saw (7)";
  EXPECT_TRUE(t.holding(199 * kMs));
  EXPECT_FALSE(t.holding(200 * kMs)) << "one hold of 200 ms for the burst, not one per refusal";
}

TEST(Throttle, EverythingRefusedIsNotNowNotALimit) {
  // A refusal window: all eight refused, the last with nothing left in
  // flight.  The cap stays where it was; the hold still holds everyone.
  Throttle t;
  t.cap = 8;
  int inflight = 8;
  for (int i = 0; i < 8; ++i) t.refused(--inflight, 0, -1, 0);
  EXPECT_EQ(t.cap, 8);
  EXPECT_TRUE(t.holding(100 * kMs));
  // A later refusal in the same hold does not lower it again.
  t.refused(3, 0, -1, 50 * kMs);
  EXPECT_EQ(t.cap, 8);
}

TEST(Throttle, TheCapKeepsToTheLimitForTenSecondsThenProbesOneHigher) {
  Throttle t;
  t.refused(2, 0, -1, 0);
  ASSERT_EQ(t.cap, 2);
  const int64_t later = 300 * kMs;
  for (int i = 0; i < 20; ++i) t.succeeded(8, later);
  EXPECT_EQ(t.cap, 2) << "successes within 10 s do not take it past the limit seen";
  const int64_t after = Throttle::kCeilingUs + kMs;
  t.succeeded(8, after);
  EXPECT_EQ(t.cap, 3) << "after 10 s, one higher";
  t.succeeded(8, after + kMs);
  EXPECT_EQ(t.cap, 3) << "and that new level is kept another 10 s";
  t.succeeded(8, after + Throttle::kCeilingUs + kMs);
  EXPECT_EQ(t.cap, 4);
}

TEST(Throttle, NeverAboveMaxInflightNorBelowOne) {
  Throttle t;
  t.refused(1, 0, -1, 0);
  EXPECT_EQ(t.cap, 1);
  t.refused(0, 0, -1, 10 * kMs);  // nothing left: "not now", back to where the hold began
  EXPECT_GE(t.cap, 1);
  Throttle u;
  u.cap = 4;
  u.ceiling = 4;
  for (int i = 0; i < 100; ++i) u.succeeded(4, int64_t{100} * Throttle::kCeilingUs);
  EXPECT_EQ(u.cap, 4);
}

TEST(Throttle, HoldsDoubleWhileTheyGoOnAndRetryAfterIsKeptWithinFiveSeconds) {
  Throttle t;
  int64_t now = 0;
  const int64_t want[] = {200, 400, 800, 1600, 3000, 3000};
  for (int64_t ms : want) {
    t.refused(1, now, -1, now);
    EXPECT_EQ(t.hold_until_us - now, ms * kMs);
    now = t.hold_until_us;
  }
  t.succeeded(8, now);
  t.refused(1, now, 2, now);
  EXPECT_EQ(t.hold_until_us - now, 2000 * kMs) << "a success starts the doubling again; Retry-After 2 s";
  now = t.hold_until_us;
  for (long absurd : {3600L, 9223372036854775807L}) {
    t.refused(1, now, absurd, now);
    EXPECT_EQ(t.hold_until_us - now, Throttle::kMaxHoldUs) << absurd;
    now = t.hold_until_us;
  }
}

// The vendor serves one request at a time and that one's answer comes back
// before the last refusal of the burst (a quick lookup, refusals slowed on
// the way back): the last refusal has nothing left in flight, but the
// vendor answered another request while it was out, so it is a limit of
// one, not "not now" (reviewer's case: the cap went back to no limit and 7
// refusals came back every 200 ms).
TEST(Throttle, AVendorLimitOfOneIsNotUndoneByASuccessThenALoneRefusal) {
  Throttle t;
  const int max_inflight = 8;
  int64_t now = 0;
  int refusals = 0;
  for (int round = 0; round < 10; ++round) {
    const int64_t left_at = now;
    int inflight = std::min(max_inflight, t.cap);  // all that may go, go
    const int refused = inflight - 1;               // the vendor serves one
    for (int i = 0; i + 1 < refused; ++i) {
      t.refused(--inflight, left_at, -1, now);
      ++refusals;
    }
    --inflight;
    t.succeeded(max_inflight, now);  // the served one is back
    if (refused > 0) {
      t.refused(--inflight, left_at, -1, now);  // nothing left
      ++refusals;
    }
    now = std::max(now + 1000, t.hold_until_us);
  }
  EXPECT_EQ(t.cap, 1);
  EXPECT_LE(refusals, 7) << "one burst, then no more stampedes";
}

// Probing one above a limit of one: the served answer returns before the
// refused probe does, which then reads nothing left; it must still bring
// the cap back down (reviewer's case: it climbed to qxt.max_inflight).
TEST(Throttle, ProbingPastALimitOfOneComesBackDown) {
  Throttle t;
  t.refused(1, 0, -1, 0);  // learned: 1
  ASSERT_EQ(t.cap, 1);
  const int max_inflight = 8;
  int64_t now = t.hold_until_us;
  for (int step = 0; step < 2000; ++step) {
    const int64_t left_at = now;
    int inflight = std::min(max_inflight, t.cap);
    --inflight;
    t.succeeded(max_inflight, now);  // the one served, quick
    while (inflight > 0) t.refused(--inflight, left_at, -1, now);  // the rest, the last with 0 left
    now = std::max(now + 100 * kMs, t.hold_until_us);
  }
  EXPECT_LE(t.cap, 2) << "after " << now / 1000000 << " s of a vendor serving one at a time";
}

// A refusal window with nothing answered: the cap is kept even when the
// last refusal comes back alone after earlier ones saw others in flight.
TEST(Throttle, ARefusalWindowAfterASuccessLongBeforeStillKeepsTheCap) {
  Throttle t;
  t.cap = 8;
  t.succeeded(8, 0);  // long before
  const int64_t left_at = 5 * Throttle::kCeilingUs;
  int inflight = 8;
  for (int i = 0; i < 8; ++i) t.refused(--inflight, left_at, -1, left_at + 10 * kMs);
  EXPECT_EQ(t.cap, 8);
}
