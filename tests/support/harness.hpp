#pragma once
// Integration-test harness: throwaway databases (SQLite files, PostgreSQL databases on the
// server scripts/test.sh starts), server processes, and a small HTTP client.

#include <boost/json/value.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace crm::testing {

/// A fresh, empty database for one test; removed afterwards.
class TestDatabase final {
 public:
  /// backend: "sqlite" or "postgres".
  explicit TestDatabase(const std::string& backend);
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  const std::string& backend() const { return backend_; }
  const std::string& url() const { return url_; }
  const std::string& data_dir() const { return dir_; }

  /// A scalar query (COUNT(*) and the like) on the test database.
  long long scalar(const std::string& sql);
  /// Runs a statement.
  void exec(const std::string& sql);
  /// First column of every row, as text.
  std::vector<std::string> column(const std::string& sql);

 private:
  std::string backend_;
  std::string url_;
  std::string dir_;
  std::string pg_name_;
};

/// Backends to run against: sqlite always; postgres when CRM_TEST_POSTGRES_URL is set.
/// Under CI (CI set) a missing PostgreSQL is a failure, not a skip.
std::vector<std::string> backends();

struct HttpResult {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  boost::json::value json() const;
  std::string header(const std::string& name) const;
};

/// A keep-alive HTTP/1.1 client to 127.0.0.1:port.
class HttpClient final {
 public:
  /// `local_address`: the loopback address to connect from (127.0.0.2...), to act as
  /// another client IP; empty: the system's choice.
  explicit HttpClient(unsigned short port, std::string local_address = {});
  ~HttpClient();
  HttpResult request(const std::string& method, const std::string& target, const std::string& body = {},
                     const std::map<std::string, std::string>& headers = {});
  HttpResult get(const std::string& target, const std::map<std::string, std::string>& headers = {}) {
    return request("GET", target, {}, headers);
  }
  HttpResult post_json(const std::string& target, const std::string& body,
                       std::map<std::string, std::string> headers = {}) {
    headers.emplace("Content-Type", "application/json");
    return request("POST", target, body, headers);
  }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// A server process (crm_probe_server by default) on an ephemeral port. Rate limits are
/// generous unless `env` sets CRM_RATE_LIMIT_*: tests share one client address.
class ServerProcess final {
 public:
  ServerProcess(const TestDatabase& db, std::map<std::string, std::string> env = {},
                std::vector<std::string> extra_args = {}, std::string binary = {});
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  unsigned short port() const { return port_; }
  int pid() const { return pid_; }
  /// SIGTERM and wait; returns the exit code (or 128+signal).
  int terminate(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  /// SIGKILL and wait.
  void kill9();
  /// Everything the process printed so far.
  std::string output() const;

 private:
  int wait_exit(std::chrono::milliseconds timeout);
  int pid_ = -1;
  unsigned short port_ = 0;
  std::string log_path_;
  bool exited_ = false;
  int exit_code_ = -1;
};

/// Runs a CLI command of a binary; returns {exit code, stdout+stderr}.
std::pair<int, std::string> run_command(const std::string& binary, const std::vector<std::string>& args,
                                        const std::map<std::string, std::string>& env = {});

/// Polls `predicate` until it is true or the timeout passes; returns the last result.
bool eventually(const std::function<bool()>& predicate, std::chrono::milliseconds timeout = std::chrono::seconds(15));

std::string probe_server_path();
std::string crm_binary_path();

}  // namespace crm::testing
