#include "http_server.hpp"

#include "crm/platform/log.hpp"
#include "crm/platform/time.hpp"
#include "request_identity.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <array>
#include <atomic>
#include <condition_variable>
#include <list>
#include <mutex>
#include <thread>

namespace crm::platform {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kHeaderLimit = 16 * 1024;
}  // namespace

struct HttpServer::Impl {
  HttpConfig config;
  const Router& router;
  const Pipeline& pipeline;
  MetricsRegistry& metrics;

  asio::io_context ioc;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  tcp::acceptor acceptor{ioc};
  std::optional<asio::ssl::context> tls;
  std::unique_ptr<asio::thread_pool> workers;
  std::vector<std::thread> io_threads;

  std::atomic<bool> stopping{false};
  std::atomic<int> queued{0};     // requests on or waiting for the worker pool
  std::atomic<int> in_flight{0};  // requests being processed (read complete, not yet written)
  std::mutex sessions_mutex;
  std::condition_variable sessions_cv;
  std::uint64_t next_session = 0;
  // Closers of open connections: called on shutdown to end idle keep-alive connections.
  std::map<std::uint64_t, std::function<void()>> closers;
  bool stopped = false;

  Impl(HttpConfig c, const Router& r, const Pipeline& p, MetricsRegistry& m)
      : config(std::move(c)), router(r), pipeline(p), metrics(m) {}

  std::uint64_t register_session(std::function<void()> closer) {
    std::lock_guard lock(sessions_mutex);
    auto id = ++next_session;
    closers.emplace(id, std::move(closer));
    return id;
  }

  void unregister_session(std::uint64_t id) {
    std::lock_guard lock(sessions_mutex);
    closers.erase(id);
    sessions_cv.notify_all();
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(ioc), kTuple);
      if (ec) {
        if (stopping || ec == asio::error::operation_aborted) co_return;
        log_warn("accept failed", {{"error", ec.message()}});
        continue;
      }
      socket.set_option(tcp::no_delay(true), ec);
      auto executor = socket.get_executor();
      if (tls) {
        asio::co_spawn(executor, run_tls(std::move(socket)), asio::detached);
      } else {
        asio::co_spawn(executor, run_plain(std::move(socket)), asio::detached);
      }
    }
  }

  asio::awaitable<void> run_plain(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    co_await session(stream);
  }

  asio::awaitable<void> run_tls(tcp::socket socket) {
    beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), *tls);
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(10));
    auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, kTuple);
    if (ec) co_return;
    co_await session(stream);
  }

  // Runs the pipeline on the worker pool, answering 503 when it takes longer than the request
  // timeout (the handler still finishes in the background; its result is dropped). The
  // worker signals completion by cancelling a timer on the connection's strand.
  asio::awaitable<HttpResponse> handle_on_workers(std::shared_ptr<Request> request) {
    struct Outcome {
      bool done = false;
      HttpResponse response;
    };
    auto executor = co_await asio::this_coro::executor;
    auto outcome = std::make_shared<Outcome>();
    auto timer = std::make_shared<asio::steady_timer>(executor);
    timer->expires_after(std::chrono::milliseconds(config.request_timeout_ms));
    asio::post(workers->get_executor(), [this, request, outcome, timer, executor] {
      HttpResponse response = pipeline.run(*request);
      asio::post(executor, [outcome, timer, response = std::move(response)]() mutable {
        outcome->response = std::move(response);
        outcome->done = true;
        timer->cancel();
      });
    });
    co_await timer->async_wait(kTuple);
    if (outcome->done) co_return std::move(outcome->response);
    log_warn("request timed out", {{"route", std::string(request->route_pattern())}});
    Request late(HttpRequest(request->raw().base()));
    late.context() = RequestContext{request->context().request_id, request->context().trace_id,
                                    request->context().span_id};
    late.set_route(request->route());
    late.set_pending_error(Error(ErrorKind::timeout, "request_timeout", "The request took too long."));
    co_return pipeline.run(late);
  }

  // After refusing a body the client is still sending, read and discard for a moment before
  // closing, so the client sees our response instead of a connection reset.
  asio::awaitable<void> linger(beast::tcp_stream& lowest) {
    boost::system::error_code ec;
    lowest.socket().shutdown(tcp::socket::shutdown_send, ec);
    lowest.expires_after(std::chrono::seconds(2));
    std::array<char, 16384> sink;
    std::size_t total = 0;
    while (total < 64 * 1024 * 1024) {
      auto [rec, n] = co_await lowest.async_read_some(asio::buffer(sink), kTuple);
      if (rec) break;
      total += n;
    }
  }

  template <class Stream>
  asio::awaitable<void> session(Stream& stream) {
    auto& lowest = beast::get_lowest_layer(stream);
    std::string remote_ip;
    {
      boost::system::error_code ec;
      auto ep = lowest.socket().remote_endpoint(ec);
      if (!ec) remote_ip = ep.address().to_string();
    }
    auto executor = lowest.get_executor();
    struct State {
      bool busy = false;
      bool alive = true;
    };
    auto state = std::make_shared<State>();
    auto id = register_session([executor, &lowest, state] {
      asio::post(executor, [&lowest, state] {
        if (state->alive && !state->busy) {
          boost::system::error_code ec;
          lowest.socket().shutdown(tcp::socket::shutdown_both, ec);
          lowest.socket().close(ec);
        }
      });
    });
    beast::flat_buffer buffer;
    for (;;) {
      if (stopping) break;
      http::request_parser<http::string_body> parser;
      parser.header_limit(kHeaderLimit);
      // The limit depends on the route: checked once the header is in (below).
      parser.body_limit(boost::none);
      lowest.expires_after(std::chrono::milliseconds(config.idle_timeout_ms));
      auto [rec, rn] = co_await http::async_read_header(stream, buffer, parser, kTuple);
      if (rec) break;
      state->busy = true;
      in_flight.fetch_add(1);
      struct Done {
        std::atomic<int>& n;
        bool& busy;
        ~Done() {
          n.fetch_sub(1);
          busy = false;
        }
      } done{in_flight, state->busy};

      std::string_view target(parser.get().target().data(), parser.get().target().size());
      auto match = router.match(parser.get().method(), target.substr(0, target.find('?')));
      std::int64_t limit = config.body_limit_bytes;
      if (match.route && match.route->options.body_limit > 0) limit = match.route->options.body_limit;
      parser.body_limit(static_cast<std::uint64_t>(limit));

      std::optional<Error> pending;
      bool close_after = false;
      auto declared = parser.content_length();
      if (declared && *declared > static_cast<std::uint64_t>(limit)) {
        pending = Error(ErrorKind::payload_too_large, "payload_too_large",
                        "The request body exceeds " + std::to_string(limit) + " bytes.");
        close_after = true;
      } else {
        lowest.expires_after(std::chrono::milliseconds(config.request_timeout_ms));
        auto [bec, bn] = co_await http::async_read(stream, buffer, parser, kTuple);
        if (bec == http::error::body_limit) {
          pending = Error(ErrorKind::payload_too_large, "payload_too_large",
                          "The request body exceeds " + std::to_string(limit) + " bytes.");
          close_after = true;
        } else if (bec) {
          break;
        }
      }

      auto request = std::make_shared<Request>(parser.release());
      request->context().remote_ip = remote_ip;
      assign_request_identity(*request);
      request->set_route(match.route);
      if (match.status == Router::Match::Status::found) {
        request->set_path_params(std::move(match.params));
      } else if (!pending && match.status == Router::Match::Status::method_not_allowed) {
        pending = Error(ErrorKind::method_not_allowed, "method_not_allowed",
                        "This endpoint does not support the method.");
        pending->with_header("Allow", match.allow);
      } else if (!pending) {
        pending = Error::not_found("No such endpoint.");
      }
      if (pending) request->set_pending_error(std::move(*pending));

      HttpResponse response;
      bool inline_run = request->pending_error() || (match.route && match.route->options.run_inline);
      if (inline_run) {
        response = pipeline.run(*request);
      } else if (queued.fetch_add(1) >= config.max_queue) {
        queued.fetch_sub(1);
        request->set_pending_error(
            Error(ErrorKind::unavailable, "server_busy", "The server is busy; try again shortly.")
                .with_header("Retry-After", "1"));
        response = pipeline.run(*request);
      } else {
        response = co_await handle_on_workers(request);
        queued.fetch_sub(1);
      }

      bool keep_alive = request->raw().keep_alive() && !close_after && !stopping;
      response.keep_alive(keep_alive);
      if (request->method() == http::verb::head) response.body().clear();
      lowest.expires_after(std::chrono::milliseconds(config.request_timeout_ms));
      auto [wec, wn] = co_await http::async_write(stream, response, kTuple);
      if (wec || !keep_alive) {
        if (!wec && close_after) co_await linger(lowest);
        break;
      }
    }
    boost::system::error_code ec;
    if constexpr (!std::is_same_v<Stream, beast::tcp_stream>) {
      lowest.expires_after(std::chrono::seconds(2));
      co_await stream.async_shutdown(kTuple);
    }
    lowest.socket().shutdown(tcp::socket::shutdown_both, ec);
    lowest.socket().close(ec);
    state->alive = false;
    unregister_session(id);
  }
};

HttpServer::HttpServer(HttpConfig config, const Router& router, const Pipeline& pipeline,
                       MetricsRegistry& metrics)
    : impl_(std::make_unique<Impl>(std::move(config), router, pipeline, metrics)) {}

HttpServer::~HttpServer() { shutdown(); }

void HttpServer::start() {
  auto& d = *impl_;
  if (d.config.tls.enabled()) {
    d.tls.emplace(asio::ssl::context::tls_server);
    d.tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use);
    d.tls->use_certificate_chain_file(d.config.tls.cert_file);
    d.tls->use_private_key_file(d.config.tls.key_file, asio::ssl::context::pem);
  }
  auto address = asio::ip::make_address(d.config.host);
  tcp::endpoint endpoint(address, static_cast<unsigned short>(d.config.port));
  d.acceptor.open(endpoint.protocol());
  d.acceptor.set_option(asio::socket_base::reuse_address(true));
  d.acceptor.bind(endpoint);
  d.acceptor.listen(asio::socket_base::max_listen_connections);
  d.workers = std::make_unique<asio::thread_pool>(static_cast<std::size_t>(d.config.worker_threads));
  d.work.emplace(d.ioc.get_executor());
  asio::co_spawn(d.ioc, d.accept_loop(), asio::detached);
  for (int i = 0; i < d.config.io_threads; ++i) d.io_threads.emplace_back([&d] { d.ioc.run(); });
}

unsigned short HttpServer::port() const {
  boost::system::error_code ec;
  return impl_->acceptor.local_endpoint(ec).port();
}

int HttpServer::in_flight() const { return impl_->in_flight.load(); }

void HttpServer::shutdown() {
  auto& d = *impl_;
  if (d.stopped) return;
  d.stopped = true;
  d.stopping = true;
  asio::post(d.ioc, [&d] {
    boost::system::error_code ec;
    d.acceptor.close(ec);
  });
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(d.config.shutdown_timeout_ms);
  {
    std::unique_lock lock(d.sessions_mutex);
    // Idle connections close now; busy ones close after writing their response.
    while (!d.closers.empty() && std::chrono::steady_clock::now() < deadline) {
      for (auto& [id, close] : d.closers) close();
      d.sessions_cv.wait_for(lock, std::chrono::milliseconds(20));
    }
    if (!d.closers.empty()) {
      log_warn("shutdown timeout reached with open connections", {{"connections", d.closers.size()}});
    }
  }
  d.work.reset();
  d.ioc.stop();
  for (auto& t : d.io_threads)
    if (t.joinable()) t.join();
  if (d.workers) d.workers->join();
}

}  // namespace crm::platform
