// The SocketBudget hook (PostgreSQL's AcquireExternalFD/ReleaseExternalFD in
// the extension): every descriptor the pool holds is counted, every one is
// given back (also those libcurl closes without its close callback), and a
// refused descriptor is its own error (53000) that sends nothing and leaks
// nothing.
#include <dirent.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <climits>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "client.hpp"
#include "errors.hpp"
#include "http.hpp"
#include "mini_server.hpp"

using namespace qxt;
using qxt_test::http_ok;
using qxt_test::MiniReply;
using qxt_test::MiniRequest;
using qxt_test::MiniServer;

namespace {

std::atomic<long> g_acquired{0}, g_released{0}, g_refused{0};
long g_limit = LONG_MAX;

bool count_acquire() {
  if (g_acquired - g_released >= g_limit) {
    ++g_refused;
    return false;
  }
  ++g_acquired;
  return true;
}
void count_release() { ++g_released; }

SocketBudget counting(long limit = LONG_MAX) {
  g_acquired = g_released = g_refused = 0;
  g_limit = limit;
  return SocketBudget{count_acquire, count_release};
}
long outstanding() { return g_acquired - g_released; }

// Descriptors open in this process.
int open_fds() {
  int n = 0;
  DIR* d = opendir("/proc/self/fd");
  while (dirent* e = readdir(d))
    if (e->d_name[0] != '.') ++n;
  closedir(d);
  return n - 1;  // the directory's own
}

// The sockets of this process whose remote end is 127.0.0.1:`port` (the
// client ends of connections to a test server), read from the kernel: the
// truth the budget is checked against.
int client_sockets_to(int port) {
  std::set<std::string> inodes;
  std::ifstream tcp("/proc/net/tcp");
  std::string line;
  std::getline(tcp, line);  // header
  while (std::getline(tcp, line)) {
    std::istringstream in(line);
    std::string sl, local, remote, st, queues, tr, retr, uid, timeout, inode;
    in >> sl >> local >> remote >> st >> queues >> tr >> retr >> uid >> timeout >> inode;
    if (std::stoi(remote.substr(remote.find(':') + 1), nullptr, 16) == port) inodes.insert(inode);
  }
  int n = 0;
  DIR* d = opendir("/proc/self/fd");
  while (dirent* e = readdir(d)) {
    char target[64] = {};
    std::string path = std::string("/proc/self/fd/") + e->d_name;
    ssize_t len = readlink(path.c_str(), target, sizeof target - 1);
    if (len <= 0) continue;
    std::string t(target, static_cast<std::size_t>(len));
    if (t.rfind("socket:[", 0) == 0 && inodes.count(t.substr(8, t.size() - 9))) ++n;
  }
  closedir(d);
  return n;
}

int port_of(const std::string& url) { return std::stoi(url.substr(url.rfind(':') + 1)); }

const char* kSingle =
    R"({"code":0,"reason":"Succ","result":{"res":"1","Mobile":"13972565391","Area":"湖北-宜昌","Init_isp":"移动","Now_isp":"电信"}})";

std::string batch_answer(const std::string& body) {
  std::string out = "[";
  std::size_t pos = body.find('[');
  while ((pos = body.find('"', pos)) != std::string::npos) {
    if (out.size() > 1) out += ',';
    out += R"({"code":0,"reason":"Succ","result":{"res":"0","Mobile":")" +
           body.substr(pos + 1, 11) + R"(","Area":"广东-深圳","Init_Isp":"移动","Now_Isp":"移动"}})";
    pos += 13;
  }
  return out + "]";
}

Settings settings_for(const std::string& url) {
  Settings st;
  st.apikey = "0123456789abcdef0123456789abcdef";
  st.http.base_url = url;
  st.http.max_retries = 2;
  st.http.timeout_ms = 5000;
  return st;
}

std::vector<std::uint64_t> numbers(int n) {
  std::vector<std::uint64_t> keys;
  for (int i = 1; i <= n; ++i) keys.push_back(13900000000ULL + i);
  return keys;
}

std::atomic<bool> g_cancel{false};
bool cancel_flag() { return g_cancel.load(); }

}  // namespace

// libcurl 7.88's multi handle opens a wake-up socketpair at creation: the
// budget counts exactly what the pool opens before any request.
TEST(SocketBudget, TheMultiHandlesOwnDescriptorsAreCounted) {
  { HttpPool warm_up; }  // curl_global_init's own files, once per process
  const int before = open_fds();
  {
    HttpPool pool(counting());
    EXPECT_EQ(open_fds() - before, kMultiHandleFds) << "libcurl opens another number at init";
    EXPECT_EQ(outstanding(), kMultiHandleFds);
    EXPECT_EQ(pool.budget_held(), kMultiHandleFds);
  }
  EXPECT_EQ(open_fds(), before);
  EXPECT_EQ(g_acquired, kMultiHandleFds);
  EXPECT_EQ(g_released, kMultiHandleFds);
}

// Kept-alive connections stay counted while they live; every way a
// connection ends gives its descriptor back, and destroying the pool gives
// back everything.  At each step the count is checked against the sockets
// the kernel shows open.
TEST(SocketBudget, EveryDescriptorIsGivenBack) {
  { HttpPool warm_up; }
  const int fds_before = open_fds();
  {
    MiniServer srv([&](const MiniRequest& r, int) {
      if (r.head.rfind("POST /carrier_batch", 0) == 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
        return MiniReply{MiniReply::Send, http_ok(batch_answer(r.body))};
      }
      if (r.body.find("mobile=13900000000") != std::string::npos)
        return MiniReply{MiniReply::Close, ""};
      if (r.body.find("mobile=13900000001") != std::string::npos)
        return MiniReply{MiniReply::Hang, ""};
      return MiniReply{MiniReply::Send, http_ok(kSingle)};
    });
    qxt_test::BlackholeListener hole;
    const int port = port_of(srv.url());
    const int hole_fillers = client_sockets_to(port_of(hole.url()));  // the listener's own
    Client client(counting());
    HttpPool& pool = client.pool();
    auto expect_truth = [&](const char* when) {
      EXPECT_EQ(pool.budget_held(), kMultiHandleFds + client_sockets_to(port)) << when;
      EXPECT_EQ(outstanding(), pool.budget_held()) << when;
      EXPECT_EQ(client_sockets_to(port_of(hole.url())), hole_fillers) << when;
    };
    Settings s = settings_for(srv.url());
    for (int i = 0; i < 3; ++i) client.carrier(s, "13972565391", nullptr);
    EXPECT_EQ(pool.budget_held(), kMultiHandleFds + 1) << "one kept-alive connection";
    expect_truth("single lookups");

    s.http.concurrency = 4;
    s.batch_size = 10;
    std::vector<std::uint64_t> keys = numbers(80);
    BatchJob job(keys.data(), keys.size(), s.batch_size);
    client.batch(s, job, nullptr);
    EXPECT_EQ(srv.connections(), 4);
    EXPECT_EQ(pool.budget_held(), kMultiHandleFds + 4) << "four kept-alive connections";
    expect_truth("batch");

    // The server closes a connection unanswered (libcurl then also gives up
    // the idle connection it picked to re-send on): descriptors come back.
    s.http.concurrency = 1;
    EXPECT_THROW(client.carrier(s, "13900000000", nullptr), QxtError);
    EXPECT_LT(pool.budget_held(), kMultiHandleFds + 4);
    expect_truth("connection closed by the server");

    // A cancel while an answer hangs: the abandoned connection is closed.
    const long before_cancel = pool.budget_held();
    g_cancel = false;
    std::thread canceller([] {
      std::this_thread::sleep_for(std::chrono::milliseconds(150));
      g_cancel = true;
    });
    EXPECT_THROW(client.carrier(s, "13900000001", cancel_flag), QxtError);
    canceller.join();
    g_cancel = false;
    EXPECT_EQ(pool.budget_held(), before_cancel - 1);
    expect_truth("cancel");

    // Refused three times, and a connect timeout three times: libcurl closes
    // a socket that never connected without the close callback; those are
    // given back too.
    const long held = pool.budget_held();
    const long opened = pool.connections_opened();
    EXPECT_THROW(client.carrier(settings_for("http://127.0.0.1:1"), "13972565391", nullptr),
                 QxtError);
    Settings slow = settings_for(hole.url());
    slow.http.connect_timeout_ms = 100;
    EXPECT_THROW(client.carrier(slow, "13972565391", nullptr), QxtError);
    EXPECT_EQ(pool.connections_opened() - opened, 6);
    EXPECT_EQ(pool.budget_held(), held);
    expect_truth("refused and timed out");
  }
  EXPECT_EQ(g_acquired, g_released);
  EXPECT_GT(g_acquired, 10);
  EXPECT_EQ(open_fds(), fds_before) << "a descriptor outlived the pool";
}

TEST(SocketBudget, ExhaustionIsItsOwnErrorSendsNothingAndLeaksNothing) {
  MiniServer srv([&](const MiniRequest& r, int) {
    if (r.head.rfind("POST /carrier_batch", 0) == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      return MiniReply{MiniReply::Send, http_ok(batch_answer(r.body))};
    }
    return MiniReply{MiniReply::Send, http_ok(kSingle)};
  });
  // Not even the pool's own descriptors.
  try {
    Client client(counting(0));
    ADD_FAILURE() << "a pool was made without descriptors";
  } catch (const QxtError& e) {
    EXPECT_EQ(e.error().kind, ErrorKind::ResourceExhausted);
    EXPECT_EQ(e.error().sqlstate, "53000");
  }
  EXPECT_EQ(g_acquired, g_released);

  // The pool's own, and nothing for a connection.
  {
    Client client(counting(kMultiHandleFds));
    try {
      client.carrier(settings_for(srv.url()), "13972565391", nullptr);
      ADD_FAILURE() << "connected without a descriptor";
    } catch (const QxtError& e) {
      EXPECT_EQ(e.error().sqlstate, "53000");
      EXPECT_EQ(e.error().message, "no file descriptor is left for a connection to the vendor");
      EXPECT_NE(e.error().hint.find("max_files_per_process"), std::string::npos);
      EXPECT_NE(e.error().hint.find("qxt.batch_concurrency"), std::string::npos);
      EXPECT_NE(e.error().detail.find("not sent"), std::string::npos) << e.error().detail;
    }
    EXPECT_EQ(srv.requests(), 0);
    EXPECT_EQ(client.pool().budget_held(), kMultiHandleFds);
  }
  EXPECT_EQ(g_acquired, g_released);
  EXPECT_GT(g_refused, 0);

  // Room for some connections of a batch at concurrency 8, not for all:
  // the answered chunks are kept, the job stops with 53000, and nothing
  // is sent twice or leaked.
  {
    Client client(counting(kMultiHandleFds + kResolverFds));
    Settings s = settings_for(srv.url());
    s.http.concurrency = 8;
    s.batch_size = 10;
    std::vector<std::uint64_t> keys = numbers(80);
    BatchJob job(keys.data(), keys.size(), s.batch_size);
    try {
      client.batch(s, job, nullptr);
      ADD_FAILURE() << "eight connections within a budget of " << kResolverFds;
    } catch (const QxtError& e) {
      EXPECT_EQ(e.error().sqlstate, "53000");
    }
    EXPECT_GT(srv.requests(), 0);
    EXPECT_EQ(job.answered(), static_cast<std::size_t>(srv.requests()) * 10);
    EXPECT_LT(job.answered(), keys.size());
  }
  EXPECT_EQ(g_acquired, g_released);
}

TEST(SocketBudget, WithoutHooksNothingIsCounted) {
  MiniServer srv([&](const MiniRequest&, int) { return MiniReply{MiniReply::Send, http_ok(kSingle)}; });
  Client client;
  client.carrier(settings_for(srv.url()), "13972565391", nullptr);
  EXPECT_EQ(client.pool().budget_held(), 0);
}
