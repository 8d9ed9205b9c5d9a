// Name resolution, contained: runs only inside the sandbox made by
// dns_sandbox.sh, a private network namespace whose resolv.conf points at
// 127.0.0.1:53 on its own loopback, so no query can leave the machine.
// - A name that cannot be resolved is a connect failure (08001), retried
//   like one, and names the host in DETAIL.
// - While a name resolves on libcurl's resolver thread (a server on port 53
//   that never answers keeps getaddrinfo blocked), that thread blocks every
//   signal, a signal sent to the process is handled on the main thread, and
//   a cancel ends the call at once although the resolver is still blocked.
#include <arpa/inet.h>
#include <dirent.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client.hpp"
#include "errors.hpp"

using namespace qxt;
using Clock = std::chrono::steady_clock;

namespace {

const char* kResolvConf = "nameserver 127.0.0.1\noptions timeout:2 attempts:1\n";

Settings settings() {
  Settings s;
  s.apikey = "0123456789abcdef0123456789abcdef";
  s.http.base_url = "http://vendor.qxt-dns-test.invalid";
  s.http.max_retries = 1;
  s.http.connect_timeout_ms = 20000;
  s.http.timeout_ms = 30000;
  return s;
}

pid_t this_thread_id() { return static_cast<pid_t>(::syscall(SYS_gettid)); }

std::set<pid_t> threads() {
  std::set<pid_t> out;
  DIR* d = opendir("/proc/self/task");
  while (dirent* e = readdir(d))
    if (e->d_name[0] != '.') out.insert(static_cast<pid_t>(std::atoi(e->d_name)));
  closedir(d);
  return out;
}

// The signals thread `tid` blocks (SigBlk of /proc/self/task/TID/status);
// bit n-1 is signal n.
unsigned long long blocked_by(pid_t tid) {
  std::ifstream f("/proc/self/task/" + std::to_string(tid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("SigBlk:", 0) == 0) return std::stoull(line.substr(7), nullptr, 16);
  return 0;
}

// Signals that no thread can block: SIGKILL, SIGSTOP, and the two that
// glibc reserves for itself (32, 33), which pthread_sigmask never blocks.
bool unblockable(int sig) { return sig == SIGKILL || sig == SIGSTOP || sig == 32 || sig == 33; }

// A DNS server on the sandbox's 127.0.0.1:53 that reads nothing and answers
// nothing: getaddrinfo waits for its own timeout.
class SilentDnsServer {
 public:
  SilentDnsServer() {
    fd_ = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(53);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~SilentDnsServer() { ::close(fd_); }
  bool ok() const { return ok_; }

 private:
  int fd_ = -1;
  bool ok_ = false;
};

// What the probe saw, from the pool's cancel check on the main thread.
struct Probe {
  std::set<pid_t> before;  // threads before the call
  pid_t main_tid = 0;
  std::vector<pid_t> resolver_threads;
  std::vector<std::string> unblocked;  // "tid: signal" a resolver thread does not block
  Clock::time_point signalled{};
};
Probe g_probe;
std::atomic<bool> g_cancel{false};
std::atomic<pid_t> g_handler_tid{0};
std::atomic<long long> g_handled_at_ns{0};

void on_sigusr1(int) {
  g_handler_tid = this_thread_id();
  g_handled_at_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                        Clock::now().time_since_epoch())
                        .count();
  g_cancel = true;  // as PostgreSQL's handlers set InterruptPending
}

// The CancelCheck: called by the pool on the main thread every few ms.
bool probe_then_cancel_on_signal() {
  if (g_cancel) return true;
  if (g_probe.signalled != Clock::time_point{}) return false;
  std::vector<pid_t> fresh;
  for (pid_t t : threads())
    if (!g_probe.before.count(t)) fresh.push_back(t);
  if (fresh.empty()) return false;  // no resolver thread yet
  g_probe.resolver_threads = fresh;
  // (a) every thread libcurl started blocks every signal it can.
  for (pid_t t : fresh) {
    unsigned long long mask = blocked_by(t);
    for (int sig = 1; sig <= 64; ++sig)
      if (!unblockable(sig) && !(mask & (1ULL << (sig - 1))))
        g_probe.unblocked.push_back(std::to_string(t) + ": " + std::to_string(sig));
  }
  // (b) a signal sent to the process while this thread blocks it can only
  // be taken by a thread that does not block it; given none, it waits for
  // this one.
  sigset_t usr1, old;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &usr1, &old);
  g_probe.signalled = Clock::now();
  ::kill(::getpid(), SIGUSR1);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  pthread_sigmask(SIG_SETMASK, &old, nullptr);  // a pending SIGUSR1 runs here, now
  // (c) the handler's cancel is seen at once.
  return g_cancel;
}

}  // namespace

TEST(DnsFailure, RunsInsideTheSandbox) {
  const char* flag = std::getenv("QXT_DNS_SANDBOX");
  ASSERT_TRUE(flag != nullptr && std::string(flag) == "1")
      << "run through test/dns/dns_sandbox.sh (ctest does)";
  std::ifstream f("/etc/resolv.conf");
  std::stringstream ss;
  ss << f.rdbuf();
  EXPECT_EQ(ss.str(), kResolvConf) << "resolv.conf is not the sandbox's";
}

TEST(DnsFailure, UnresolvableHostIsAConnectFailure) {
  Client client;
  Settings s = settings();
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
  EXPECT_EQ(client.pool().connections_opened(), 0) << "nothing to connect to";
}

TEST(DnsResolverThread, TakesNoSignalAndACancelDoesNotWaitForIt) {
  std::ifstream f("/etc/resolv.conf");
  std::stringstream ss;
  ss << f.rdbuf();
  ASSERT_EQ(ss.str(), kResolvConf) << "only inside the sandbox: this binds port 53";
  SilentDnsServer dns;
  ASSERT_TRUE(dns.ok()) << "could not bind the sandbox's 127.0.0.1:53";

  struct sigaction sa {}, old_sa{};
  sa.sa_handler = on_sigusr1;
  sigemptyset(&sa.sa_mask);
  ASSERT_EQ(sigaction(SIGUSR1, &sa, &old_sa), 0);

  g_probe = Probe();
  g_probe.before = threads();
  g_probe.main_tid = this_thread_id();
  g_cancel = false;
  g_handler_tid = 0;
  Client client;
  Clock::time_point returned;
  try {
    client.carrier(settings(), "13972565391", probe_then_cancel_on_signal);
    ADD_FAILURE() << "resolved a name through a DNS server that never answers";
  } catch (const QxtError& e) {
    returned = Clock::now();
    EXPECT_EQ(e.error().kind, ErrorKind::Cancelled) << e.error().message << " " << e.error().detail;
  }
  std::set<pid_t> after;
  for (pid_t t : threads())
    if (!g_probe.before.count(t)) after.insert(t);

  ASSERT_FALSE(g_probe.resolver_threads.empty()) << "libcurl started no resolver thread";
  // (a)
  EXPECT_TRUE(g_probe.unblocked.empty())
      << "a libcurl thread leaves signals unblocked (tid: signal): " << g_probe.unblocked.front();
  // (b)
  EXPECT_EQ(g_handler_tid.load(), g_probe.main_tid)
      << "the signal was handled on thread " << g_handler_tid.load() << ", not the main thread";
  // (c)
  ASSERT_NE(g_handled_at_ns.load(), 0);
  auto handled_at = Clock::time_point(std::chrono::nanoseconds(g_handled_at_ns.load()));
  EXPECT_LT(returned - handled_at, std::chrono::milliseconds(100))
      << "the cancel waited "
      << std::chrono::duration_cast<std::chrono::milliseconds>(returned - handled_at).count()
      << " ms";
  EXPECT_FALSE(after.empty())
      << "the resolver thread had already ended: the cancel may have waited for it";

  // Leave no resolver behind for the next test (getaddrinfo times out in 2 s).
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (threads().size() > g_probe.before.size() && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(threads().size(), g_probe.before.size());
  sigaction(SIGUSR1, &old_sa, nullptr);
}
