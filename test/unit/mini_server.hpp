// A tiny HTTP/1.1 server on 127.0.0.1 for the transport tests: each
// connection is served by its own thread; the handler decides, per request,
// what raw bytes to send back (or to hang, or to close).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace qxt_test {

struct MiniRequest {
  std::string head;  // request line and headers
  std::string body;
};

struct MiniReply {
  // Send: the bytes, then keep the connection for the next request.
  // SendClose: the bytes, then close (e.g. a truncated answer).
  // Close: close at once, the request read but not answered.
  // Hang: never answer; ends when the client goes away.
  enum Action { Send, SendClose, Close, Hang } action = Send;
  std::string bytes;  // the response for Send / SendClose
};

inline std::string http_ok(const std::string& body, const char* type = "application/json") {
  return "HTTP/1.1 200 OK\r\nContent-Type: " + std::string(type) +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

inline std::string http_status(int code, const std::string& body = "err") {
  return "HTTP/1.1 " + std::to_string(code) + " X\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

// Headers announcing `body`, then only its first `sent` bytes (the server
// then closes: a truncated answer).
// The numbers a batch request (a JSON body of 11-digit strings) asks for, in
// order.
inline std::vector<std::string> asked(const std::string& body) {
  std::vector<std::string> out;
  std::size_t pos = body.find('[');
  while ((pos = body.find('"', pos)) != std::string::npos) {
    out.push_back(body.substr(pos + 1, 11));
    pos += 13;
  }
  return out;
}

inline std::string http_truncated(const std::string& body, std::size_t sent) {
  return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body.substr(0, sent);
}

class MiniServer {
 public:
  using Handler = std::function<MiniReply(const MiniRequest&, int index)>;

  explicit MiniServer(Handler h) : handler_(std::move(h)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd_, 64);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }

  ~MiniServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    acceptor_.join();
    for (auto& t : workers_) t.join();
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int connections() const { return connections_; }
  int requests() const { return requests_; }
  int max_in_flight() const { return max_in_flight_; }

 private:
  void accept_loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      ++connections_;
      std::lock_guard<std::mutex> g(mu_);
      workers_.emplace_back([this, c] { serve(c); });
    }
  }

  bool read_more(int c, std::string& buf) {
    char tmp[65536];
    while (!stop_) {
      pollfd p{c, POLLIN, 0};
      int r = ::poll(&p, 1, 50);
      if (r == 0) continue;
      ssize_t n = ::recv(c, tmp, sizeof tmp, 0);
      if (n <= 0) return false;
      buf.append(tmp, static_cast<std::size_t>(n));
      return true;
    }
    return false;
  }

  void serve(int c) {
    std::string buf;
    for (;;) {
      std::size_t end;
      while ((end = buf.find("\r\n\r\n")) == std::string::npos)
        if (!read_more(c, buf)) return finish(c);
      MiniRequest req;
      req.head = buf.substr(0, end);
      std::size_t len = 0;
      auto cl = req.head.find("Content-Length: ");
      if (cl != std::string::npos) len = std::stoul(req.head.substr(cl + 16));
      while (buf.size() < end + 4 + len)
        if (!read_more(c, buf)) return finish(c);
      req.body = buf.substr(end + 4, len);
      buf.erase(0, end + 4 + len);
      int idx = requests_++;
      int now = ++in_flight_;
      int seen = max_in_flight_;
      while (now > seen && !max_in_flight_.compare_exchange_weak(seen, now)) {}
      MiniReply rep = handler_(req, idx);
      if (rep.action == MiniReply::Hang) {
        while (!stop_) {
          pollfd p{c, POLLIN, 0};
          if (::poll(&p, 1, 20) > 0) {
            char x;
            if (::recv(c, &x, 1, MSG_PEEK) <= 0) break;  // client went away
          }
        }
        --in_flight_;
        return finish(c);
      }
      if (rep.action == MiniReply::Close) {
        --in_flight_;
        return finish(c);
      }
      ::send(c, rep.bytes.data(), rep.bytes.size(), MSG_NOSIGNAL);
      --in_flight_;
      if (rep.action == MiniReply::SendClose) return finish(c);
    }
  }

  void finish(int c) { ::close(c); }

  Handler handler_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0}, requests_{0}, in_flight_{0}, max_in_flight_{0};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::thread> workers_;
};

// A loopback listener that never accepts, its accept queue filled at once:
// further connection attempts get no answer to their SYN, so a client's
// connect timeout fires.  Nothing leaves 127.0.0.1.
class BlackholeListener {
 public:
  BlackholeListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd_, 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    // Linux keeps backlog + 1 completed connections; after that SYNs drop.
    for (int i = 0; i < 4; ++i) {
      int c = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
      ::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a);
      fillers_.push_back(c);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ~BlackholeListener() {
    for (int c : fillers_) ::close(c);
    ::close(fd_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::vector<int> fillers_;
};

}  // namespace qxt_test
