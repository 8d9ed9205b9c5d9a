// The parser figure of the README's Design section: CPU per batch element of
// the hand-written one-pass reader (qxt::parse_batch, which fills the
// records) against nlohmann/json's DOM parse alone (which fills nothing yet:
// a real use would still walk it with case-insensitive key lookups).
// Built and run by bench/parser.sh:
//
//   parser_bench BODY_FILE [--rounds N] [--min-ms MS]
//
// BODY_FILE is one /carrier_batch answer (bench/parser.sh fetches it from
// the emulator).  Both parsers read the same bytes, in alternating rounds
// (so that drift of a loaded machine hits both alike); each round parses
// the body repeatedly for at least --min-ms and records ns per element.
// Prints the medians and their ratio.  Exit 0 when both parsers agree on the
// body (same element count, same Mobile in every element) and the
// hand-written one is the faster, 1 otherwise, 2 on bad input.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "response.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

// Keeps a result alive so the optimiser cannot drop the work.
volatile std::size_t g_sink = 0;

template <class F>
double ns_per_element(F&& parse_once, std::size_t elements, double min_ms) {
  std::size_t reps = 0;
  const auto t0 = Clock::now();
  double elapsed_ms = 0;
  do {
    g_sink = g_sink + parse_once();
    ++reps;
    elapsed_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  } while (elapsed_ms < min_ms);
  return elapsed_ms * 1e6 / (static_cast<double>(reps) * static_cast<double>(elements));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: parser_bench BODY_FILE [--rounds N] [--min-ms MS]\n");
    return 2;
  }
  int rounds = 21;
  double min_ms = 200;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--rounds")) rounds = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--min-ms")) min_ms = std::atof(argv[i + 1]);
    else { std::fprintf(stderr, "unknown option %s\n", argv[i]); return 2; }
  }
  if (rounds < 1 || min_ms <= 0) { std::fprintf(stderr, "bad --rounds or --min-ms\n"); return 2; }
  std::ifstream in(argv[1], std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string body = ss.str();
  if (body.empty()) { std::fprintf(stderr, "empty body file %s\n", argv[1]); return 2; }

  // Both must read the same answer the same way before their speed matters.
  const qxt::BatchResponse ours = qxt::parse_batch(body);
  const nlohmann::json dom = nlohmann::json::parse(body);
  const std::size_t n = ours.items.size();
  bool agree = ours.request_code == 0 && dom.is_array() && dom.size() == n && n > 0;
  for (std::size_t i = 0; agree && i < n; ++i)
    agree = dom[i]["result"]["Mobile"].get<std::string>() == ours.items[i].mobile;
  if (!agree) {
    std::fprintf(stderr, "the two parsers do not agree on %s (%zu elements)\n", argv[1], n);
    return 1;
  }

  std::vector<double> hand, nl;
  for (int r = 0; r < rounds; ++r) {
    hand.push_back(ns_per_element([&] { return qxt::parse_batch(body).items.size(); }, n, min_ms));
    nl.push_back(ns_per_element([&] { return nlohmann::json::parse(body).size(); }, n, min_ms));
  }
  const double h = median(hand) / 1000.0, d = median(nl) / 1000.0;
  std::printf("one /carrier_batch answer: %zu elements, %zu bytes; %d rounds of at least %.0f ms "
              "per parser, alternating\n", n, body.size(), rounds, min_ms);
  std::printf("  hand-written reader (parse_batch, records filled): %.3f us per element "
              "(rounds: min %.3f, max %.3f)\n",
              h, *std::min_element(hand.begin(), hand.end()) / 1000.0,
              *std::max_element(hand.begin(), hand.end()) / 1000.0);
  std::printf("  nlohmann::json::parse (DOM only, nothing filled):  %.3f us per element "
              "(rounds: min %.3f, max %.3f)\n",
              d, *std::min_element(nl.begin(), nl.end()) / 1000.0,
              *std::max_element(nl.begin(), nl.end()) / 1000.0);
  std::printf("  ratio nlohmann / hand-written: %.2f\n", d / h);
  const bool ok = h < d;
  std::printf("%s: the hand-written reader costs %.3f us per element, less than "
              "nlohmann's DOM alone (%.3f us)\n", ok ? "PASS" : "FAIL", h, d);
  return ok ? 0 : 1;
}
