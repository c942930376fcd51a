#include "support/harness.hpp"

#include "crm/platform/db.hpp"
#include "crm/platform/time.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/parse.hpp>
#include <soci/soci.h>
#include <soci/postgresql/soci-postgresql.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <doctest/doctest.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace crm::testing {

namespace fs = std::filesystem;
namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;

namespace {

std::string env_or(const char* name, const std::string& fallback = {}) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : fallback;
}

// Replaces the database name of a postgresql:// URL.
std::string with_database(const std::string& url, const std::string& db) {
  auto q = url.find('?');
  std::string base = url.substr(0, q);
  std::string query = q == std::string::npos ? "" : url.substr(q);
  auto slash = base.find('/', base.find("://") + 3);
  return (slash == std::string::npos ? base : base.substr(0, slash)) + "/" + db + query;
}

std::unique_ptr<soci::session> open(const std::string& backend, const std::string& url) {
  auto s = std::make_unique<soci::session>();
  if (backend == "sqlite") {
    s->open(soci::sqlite3, "db=" + url.substr(7) + " timeout=10");
    *s << "PRAGMA busy_timeout=10000";
  } else {
    s->open(soci::postgresql, platform::parse_database_url(url).connect_string);
  }
  return s;
}

}  // namespace

std::vector<std::string> backends() {
  std::vector<std::string> out{"sqlite"};
  if (!env_or("CRM_TEST_POSTGRES_URL").empty()) {
    out.push_back("postgres");
  } else if (!env_or("CI").empty()) {
    FAIL("CRM_TEST_POSTGRES_URL is not set: scripts/test.sh starts a PostgreSQL server for the tests");
  } else {
    MESSAGE("PostgreSQL tests skipped: CRM_TEST_POSTGRES_URL is not set (scripts/test.sh sets it)");
  }
  return out;
}

TestDatabase::TestDatabase(const std::string& backend) : backend_(backend) {
  dir_ = (fs::temp_directory_path() / ("crm-test-" + platform::random_hex(6))).string();
  fs::create_directories(dir_);
  if (backend == "sqlite") {
    url_ = "sqlite:" + dir_ + "/test.db";
  } else {
    std::string admin = env_or("CRM_TEST_POSTGRES_URL");
    REQUIRE_MESSAGE(!admin.empty(), "CRM_TEST_POSTGRES_URL must be set for PostgreSQL tests");
    pg_name_ = "crm_test_" + platform::random_hex(6);
    auto s = open("postgres", admin);
    *s << ("CREATE DATABASE " + pg_name_);
    url_ = with_database(admin, pg_name_);
  }
}

TestDatabase::~TestDatabase() {
  try {
    if (!pg_name_.empty()) {
      auto s = open("postgres", env_or("CRM_TEST_POSTGRES_URL"));
      *s << ("DROP DATABASE IF EXISTS " + pg_name_ + " WITH (FORCE)");
    }
  } catch (const std::exception& e) {
    MESSAGE("could not drop test database: " << e.what());
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

long long TestDatabase::scalar(const std::string& sql) {
  auto s = open(backend_, url_);
  long long v = 0;
  soci::indicator ind = soci::i_ok;
  *s << sql, soci::into(v, ind);
  return ind == soci::i_ok ? v : 0;
}

void TestDatabase::exec(const std::string& sql) {
  auto s = open(backend_, url_);
  *s << sql;
}

std::vector<std::string> TestDatabase::column(const std::string& sql) {
  auto s = open(backend_, url_);
  std::vector<std::string> out;
  std::string v;
  soci::statement st = (s->prepare << sql, soci::into(v));
  st.execute();
  while (st.fetch()) out.push_back(v);
  return out;
}

boost::json::value HttpResult::json() const { return boost::json::parse(body); }

std::string HttpResult::header(const std::string& name) const {
  std::string key = name;
  for (auto& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto it = headers.find(key);
  return it == headers.end() ? std::string() : it->second;
}

struct HttpClient::Impl {
  asio::io_context ioc;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
  unsigned short port;
  std::string local_address;

  void connect() {
    stream.emplace(ioc);
    stream->expires_after(std::chrono::seconds(30));
    if (!local_address.empty()) {
      auto& socket = stream->socket();
      socket.open(asio::ip::tcp::v4());
      socket.bind(asio::ip::tcp::endpoint(asio::ip::make_address(local_address), 0));
    }
    stream->connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    buffer.clear();
  }
};

HttpClient::HttpClient(unsigned short port, std::string local_address) : impl_(std::make_unique<Impl>()) {
  impl_->port = port;
  impl_->local_address = std::move(local_address);
}
HttpClient::~HttpClient() = default;

HttpResult HttpClient::request(const std::string& method, const std::string& target, const std::string& body,
                               const std::map<std::string, std::string>& headers) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!impl_->stream) impl_->connect();
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, "127.0.0.1");
    for (const auto& [k, v] : headers) req.set(k, v);
    req.body() = body;
    if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") req.prepare_payload();
    boost::system::error_code ec;
    impl_->stream->expires_after(std::chrono::seconds(60));
    http::write(*impl_->stream, req, ec);
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    if (method == "HEAD") parser.skip(true);
    // A server may answer (413) before it has read the whole body: read the answer anyway.
    bool write_failed = static_cast<bool>(ec);
    if (!ec || ec == asio::error::broken_pipe || ec == asio::error::connection_reset) {
      http::read(*impl_->stream, impl_->buffer, parser, ec);
      if (write_failed && !ec) write_failed = false;
    }
    if (ec) {
      // A keep-alive connection the server closed: reconnect once.
      impl_->stream.reset();
      if (attempt == 0 && (ec == http::error::end_of_stream || ec == asio::error::connection_reset ||
                           ec == asio::error::broken_pipe)) {
        continue;
      }
      throw std::runtime_error("HTTP " + method + " " + target + " failed: " + ec.message());
    }
    auto res = parser.release();
    HttpResult out;
    out.status = res.result_int();
    out.body = res.body();
    for (const auto& f : res) {
      std::string name(f.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out.headers[name] = std::string(f.value());
    }
    if (!res.keep_alive()) impl_->stream.reset();
    return out;
  }
  throw std::runtime_error("unreachable");
}

std::string probe_server_path() { return CRM_PROBE_SERVER_PATH; }
std::string crm_binary_path() { return CRM_BINARY_PATH; }

ServerProcess::ServerProcess(const TestDatabase& db, std::map<std::string, std::string> env,
                             std::vector<std::string> extra_args, std::string binary) {
  if (binary.empty()) binary = probe_server_path();
  log_path_ = db.data_dir() + "/server-" + platform::random_hex(4) + ".log";
  env.emplace("CRM_DATABASE_URL", db.url());
  env.emplace("CRM_DATA_DIR", db.data_dir());
  env.emplace("CRM_HTTP_HOST", "127.0.0.1");
  env.emplace("CRM_HTTP_PORT", "0");
  env.emplace("CRM_LOG_LEVEL", "info");
  env.emplace("CRM_OUTBOX_POLL_INTERVAL_MS", "100");
  for (const char* limit : {"CRM_RATE_LIMIT_IP_PER_MINUTE", "CRM_RATE_LIMIT_USER_PER_MINUTE",
                            "CRM_RATE_LIMIT_TENANT_PER_MINUTE", "CRM_RATE_LIMIT_REGISTER_PER_HOUR",
                            "CRM_RATE_LIMIT_AUTH_PER_MINUTE"}) {
    env.emplace(limit, "1000000");
  }
  env.emplace("CRM_JWT_SECRET", "integration-test-secret-0123456789abcdef");
  std::vector<std::string> args{binary, "serve"};
  args.insert(args.end(), extra_args.begin(), extra_args.end());

  pid_ = ::fork();
  REQUIRE(pid_ >= 0);
  if (pid_ == 0) {
    int fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  // The port is in the "ready" log line.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    std::string out = output();
    auto pos = out.find("\"msg\":\"ready\"");
    if (pos != std::string::npos) {
      auto p = out.find("\"port\":", pos);
      port_ = static_cast<unsigned short>(std::stoi(out.substr(p + 7)));
      return;
    }
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      exited_ = true;
      FAIL("server exited during start-up:\n" << out);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill9();
  FAIL("server did not become ready:\n" << output());
}

ServerProcess::~ServerProcess() {
  if (!exited_ && pid_ > 0) kill9();
}

std::string ServerProcess::output() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int ServerProcess::wait_exit(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      exited_ = true;
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return exit_code_;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return -1;
}

int ServerProcess::terminate(std::chrono::milliseconds timeout) {
  if (exited_) return exit_code_;
  ::kill(pid_, SIGTERM);
  int code = wait_exit(timeout);
  if (code == -1) kill9();
  return code;
}

void ServerProcess::kill9() {
  if (exited_) return;
  ::kill(pid_, SIGKILL);
  wait_exit(std::chrono::seconds(10));
}

std::pair<int, std::string> run_command(const std::string& binary, const std::vector<std::string>& args,
                                        const std::map<std::string, std::string>& env) {
  std::string out_path = (fs::temp_directory_path() / ("crm-cmd-" + platform::random_hex(6))).string();
  pid_t pid = ::fork();
  if (pid == 0) {
    int fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    std::vector<std::string> all{binary};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  std::ifstream in(out_path);
  std::stringstream ss;
  ss << in.rdbuf();
  fs::remove(out_path);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), ss.str()};
}

bool eventually(const std::function<bool()>& predicate, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (predicate()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace crm::testing
