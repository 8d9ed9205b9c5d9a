// A name that cannot be resolved is a connect failure (08001), retried like
// one, and names the host in DETAIL.  Runs only inside the sandbox made by
// dns_sandbox.sh: a private network namespace whose resolv.conf points at a
// dead port on its own loopback, so no query can leave the machine.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "client.hpp"
#include "errors.hpp"

using namespace qxt;

TEST(DnsFailure, RunsInsideTheSandbox) {
  const char* flag = std::getenv("QXT_DNS_SANDBOX");
  ASSERT_TRUE(flag != nullptr && std::string(flag) == "1")
      << "run through test/dns/dns_sandbox.sh (ctest does)";
  std::ifstream f("/etc/resolv.conf");
  std::stringstream ss;
  ss << f.rdbuf();
  EXPECT_EQ(ss.str(), "nameserver 127.0.0.1\n") << "resolv.conf is not the sandbox's";
}

TEST(DnsFailure, UnresolvableHostIsAConnectFailure) {
  Client client;
  Settings s;
  s.apikey = "0123456789abcdef0123456789abcdef";
  s.http.base_url = "http://vendor.qxt-dns-test.invalid";
  s.http.max_retries = 1;
  s.http.connect_timeout_ms = 2000;
  try {
    client.carrier(s, "13972565391", nullptr);
    FAIL() << "resolved a name that cannot resolve";
  } catch (const QxtError& e) {
    EXPECT_EQ(e.error().kind, ErrorKind::ConnectFailed) << e.error().detail;
    EXPECT_EQ(e.error().sqlstate, "08001");
    EXPECT_NE(e.error().detail.find("qxt-dns-test.invalid"), std::string::npos) << e.error().detail;
    EXPECT_EQ(e.error().detail.find(s.apikey), std::string::npos);
  }
}
