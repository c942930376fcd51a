#include "http_server.hpp"
#include "worker_pool.hpp"

#include "crm/platform/log.hpp"
#include "crm/platform/time.hpp"
#include "request_identity.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/stream_traits.hpp>

#include <array>
#include <atomic>
#include <condition_variable>
#include <algorithm>
#include <functional>
#include <map>
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

// Per-connection deadline, enforced by one watchdog timer per connection. Moving the deadline
// is a clock read, not a timer operation: the watchdog re-arms only when it wakes early (the
// deadline moved later) or is told that the deadline moved earlier. Beast's tcp_stream would
// start and cancel a timer around every read and write instead.
struct Deadline {
  using clock = std::chrono::steady_clock;
  enum class Phase { reading, handling, writing };

  explicit Deadline(const asio::any_io_executor& executor) : timer(executor) {}

  void set(Phase p, std::chrono::milliseconds within) {
    phase = p;
    at = clock::now() + within;
    if (at < armed) timer.cancel();  // the watchdog sleeps past the new deadline: wake it
  }

  asio::steady_timer timer;
  clock::time_point at = clock::time_point::max();
  clock::time_point armed = clock::time_point::max();
  Phase phase = Phase::reading;
  bool closed = false;
  // Called on the connection's thread when the deadline passes.
  std::function<void(Phase)> on_expire;
};

struct HttpServer::Impl {
  HttpConfig config;
  const Router& router;
  const Pipeline& pipeline;
  MetricsRegistry& metrics;

  // One io_context per I/O thread: a connection lives on one thread, so its handlers need no
  // strand and no lock; the acceptor hands connections out round-robin.
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::optional<tcp::acceptor> acceptor;
  std::size_t next_context = 0;
  std::optional<asio::ssl::context> tls;
  std::unique_ptr<asio::thread_pool> workers;  // reads: a fixed number, CPU-bound on SQLite
  std::unique_ptr<WorkerPool> write_workers;   // everything else, grown as writers wait
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
      auto& context = *contexts[next_context++ % contexts.size()];
      auto [ec, socket] = co_await acceptor->async_accept(context, kTuple);
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

  static asio::awaitable<void> watchdog(std::shared_ptr<Deadline> d) {
    while (!d->closed) {
      d->armed = d->at == Deadline::clock::time_point::max() ? Deadline::clock::now() + std::chrono::hours(1) : d->at;
      d->timer.expires_at(d->armed);
      co_await d->timer.async_wait(kTuple);
      d->armed = Deadline::clock::time_point::max();
      if (d->closed) break;
      if (Deadline::clock::now() >= d->at) {
        d->at = Deadline::clock::time_point::max();
        if (d->on_expire) d->on_expire(d->phase);
      }
    }
  }

  asio::awaitable<void> run_plain(tcp::socket socket) { co_await session(socket); }

  asio::awaitable<void> run_tls(tcp::socket socket) {
    asio::ssl::stream<tcp::socket> stream(std::move(socket), *tls);
    co_await session(stream);
  }

  // One piece of work on the worker pool that a connection awaits. The worker signals
  // completion by cancelling a timer that never expires on its own; when the deadline passes
  // first, the watchdog expires the call instead (the work still finishes in the background;
  // its result is dropped).
  struct WorkerCall {
    explicit WorkerCall(const asio::any_io_executor& executor) : wake(executor) {
      wake.expires_at(asio::steady_timer::time_point::max());
    }
    void expire() {
      if (done) return;
      timed_out = true;
      wake.cancel();
    }
    asio::steady_timer wake;
    bool done = false;
    bool timed_out = false;
  };

  // Runs `fn` on the worker pool; false when the deadline passed first.
  static void post_to(asio::thread_pool& pool, std::function<void()> fn) { asio::post(pool.get_executor(), std::move(fn)); }
  static void post_to(WorkerPool& pool, std::function<void()> fn) { pool.post(std::move(fn)); }

  template <class T, class Pool>
  asio::awaitable<bool> on_workers(Pool& pool, std::function<T()> fn, T& out,
                                   std::shared_ptr<WorkerCall>& current) {
    auto executor = co_await asio::this_coro::executor;
    auto call = std::make_shared<WorkerCall>(executor);
    auto result = std::make_shared<T>();
    current = call;
    post_to(pool, [call, result, fn = std::move(fn), executor] {
      T value = fn();
      asio::post(executor, [call, result, value = std::move(value)]() mutable {
        if (call->timed_out) return;
        *result = std::move(value);
        call->done = true;
        call->wake.cancel();
      });
    });
    co_await call->wake.async_wait(kTuple);
    current.reset();
    if (!call->done) co_return false;
    out = std::move(*result);
    co_return true;
  }

  // The pipeline on the worker pool; a 503 when it outlives the request timeout.
  asio::awaitable<HttpResponse> handle_on_workers(std::shared_ptr<Request> request,
                                                  std::shared_ptr<WorkerCall>& current) {
    // No temporaries of class type inside a co_await expression: GCC 12 may destroy them twice.
    HttpResponse response;
    std::function<HttpResponse()> run = [this, request] { return pipeline.run(*request); };
    // Reads and writes have pools of their own: writers may wait for a group commit (SQLite)
    // and must not keep reads from running meanwhile.
    auto method = request->method();
    bool read = method == http::verb::get || method == http::verb::head || method == http::verb::options;
    bool in_time = false;
    if (read) {
      in_time = co_await on_workers<HttpResponse>(*workers, std::move(run), response, current);
    } else {
      in_time = co_await on_workers<HttpResponse>(*write_workers, std::move(run), response, current);
    }
    if (in_time) co_return response;
    log_warn("request timed out", {{"route", std::string(request->route_pattern())}});
    Request late(HttpRequest(request->raw().base()));
    late.context() = RequestContext{request->context().request_id, request->context().trace_id,
                                    request->context().span_id};
    late.set_route(request->route());
    late.set_pending_error(Error(ErrorKind::timeout, "request_timeout", "The request took too long."));
    co_return pipeline.run(late);
  }

  // A streamed body (exports): the header, then each piece as a chunk as the producer makes it
  // on the worker pool, then the last chunk. False when the connection must close: a write
  // failed, or the producer failed or stalled after the header went out.
  struct Piece {
    bool failed = false;
    std::optional<std::string> data;
  };

  template <class Stream>
  asio::awaitable<bool> write_streamed(Stream& stream, HttpResponse& response, std::shared_ptr<BodyStream> body,
                                       std::string route, Deadline& deadline, std::shared_ptr<WorkerCall>& current) {
    using ms = std::chrono::milliseconds;
    http::response<http::empty_body> head(std::move(response.base()));
    head.chunked(true);
    http::response_serializer<http::empty_body> serializer(head);
    deadline.set(Deadline::Phase::writing, ms(config.request_timeout_ms));
    auto [hec, hn] = co_await http::async_write_header(stream, serializer, kTuple);
    if (hec) co_return false;
    for (;;) {
      deadline.set(Deadline::Phase::handling, ms(config.request_timeout_ms));
      Piece piece;
      std::function<Piece()> produce = [body, route] {
        Piece p;
        try {
          p.data = (*body)();
        } catch (const std::exception& e) {
          log_error("a streamed response failed after its header was sent",
                    {{"error", e.what()}, {"route", route}});
          p.failed = true;
        }
        return p;
      };
      bool in_time = co_await on_workers<Piece>(*workers, std::move(produce), piece, current);
      if (!in_time) {
        log_warn("a streamed response stalled; closing the connection", {{"route", route}});
        co_return false;
      }
      if (piece.failed) co_return false;
      if (!piece.data) break;
      if (piece.data->empty()) continue;
      deadline.set(Deadline::Phase::writing, ms(config.request_timeout_ms));
      auto chunk = http::make_chunk(asio::buffer(*piece.data));
      auto [wec, wn] = co_await asio::async_write(stream, chunk, kTuple);
      if (wec) co_return false;
    }
    deadline.set(Deadline::Phase::writing, ms(config.request_timeout_ms));
    auto last = http::make_chunk_last();
    auto [lec, ln] = co_await asio::async_write(stream, last, kTuple);
    co_return !lec;
  }

  // After refusing a body the client is still sending, read and discard for a moment before
  // closing, so the client sees our response instead of a connection reset.
  asio::awaitable<void> linger(tcp::socket& socket, Deadline& deadline) {
    boost::system::error_code ec;
    socket.shutdown(tcp::socket::shutdown_send, ec);
    deadline.set(Deadline::Phase::reading, std::chrono::seconds(2));
    std::array<char, 16384> sink;
    std::size_t total = 0;
    while (total < 64 * 1024 * 1024) {
      auto [rec, n] = co_await socket.async_read_some(asio::buffer(sink), kTuple);
      if (rec) break;
      total += n;
    }
  }

  template <class Stream>
  asio::awaitable<void> session(Stream& stream) {
    tcp::socket& socket = beast::get_lowest_layer(stream);
    std::string remote_ip;
    {
      boost::system::error_code ec;
      auto ep = socket.remote_endpoint(ec);
      if (!ec) remote_ip = ep.address().to_string();
    }
    auto executor = socket.get_executor();
    using ms = std::chrono::milliseconds;
    auto deadline = std::make_shared<Deadline>(executor);
    std::shared_ptr<WorkerCall> current_call;
    auto close_socket = [&socket] {
      boost::system::error_code ec;
      socket.shutdown(tcp::socket::shutdown_both, ec);
      socket.close(ec);
    };
    deadline->on_expire = [&](Deadline::Phase phase) {
      if (phase == Deadline::Phase::handling) {
        if (current_call) current_call->expire();
      } else {
        close_socket();
      }
    };
    asio::co_spawn(executor, watchdog(deadline), asio::detached);

    struct State {
      bool busy = false;
      bool alive = true;
    };
    auto state = std::make_shared<State>();
    auto id = register_session([executor, &close_socket, state] {
      asio::post(executor, [&close_socket, state] {
        if (state->alive && !state->busy) close_socket();
      });
    });

    bool secured = true;
    if constexpr (!std::is_same_v<Stream, tcp::socket>) {
      deadline->set(Deadline::Phase::reading, std::chrono::seconds(10));
      auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, kTuple);
      secured = !ec;
    }

    beast::flat_buffer buffer;
    while (secured) {
      if (stopping) break;
      http::request_parser<http::string_body> parser;
      parser.header_limit(kHeaderLimit);
      // The limit depends on the route: checked once the header is in (below).
      parser.body_limit(boost::none);
      deadline->set(Deadline::Phase::reading, ms(config.idle_timeout_ms));
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
      } else if (!parser.is_done()) {
        deadline->set(Deadline::Phase::reading, ms(config.request_timeout_ms));
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
        // An I/O thread that only serves inline routes never blocks, so on a busy machine the
        // kernel takes it off the core only at the end of a full time slice, stalling every
        // connection it holds. Yielding now and then keeps that stall short (a no-op when
        // nothing else wants the core).
        thread_local unsigned inline_served = 0;
        if (++inline_served % 8 == 0) std::this_thread::yield();
      } else if (queued.fetch_add(1) >= config.max_queue) {
        queued.fetch_sub(1);
        request->set_pending_error(
            Error(ErrorKind::unavailable, "server_busy", "The server is busy; try again shortly.")
                .with_header("Retry-After", "1"));
        response = pipeline.run(*request);
      } else {
        deadline->set(Deadline::Phase::handling, ms(config.request_timeout_ms));
        response = co_await handle_on_workers(request, current_call);
        queued.fetch_sub(1);
      }

      bool keep_alive = request->raw().keep_alive() && !close_after && !stopping;
      response.keep_alive(keep_alive);
      BodyStream body_stream = request->take_body_stream();
      if (request->method() == http::verb::head) {
        response.body().clear();
        body_stream = nullptr;
      }
      if (body_stream && response.result_int() < 300) {
        auto body = std::make_shared<BodyStream>(std::move(body_stream));
        std::string route(request->route_pattern());
        bool ok = co_await write_streamed(stream, response, std::move(body), std::move(route), *deadline, current_call);
        if (!ok || !keep_alive) break;
        continue;
      }
      if (response.chunked() && request->method() == http::verb::head) {
        // The header a GET would get, and no body at all (not even the last chunk).
        http::response<http::empty_body> head(std::move(response.base()));
        http::response_serializer<http::empty_body> serializer(head);
        deadline->set(Deadline::Phase::writing, ms(config.request_timeout_ms));
        auto [hec, hn] = co_await http::async_write_header(stream, serializer, kTuple);
        if (hec || !keep_alive) break;
        continue;
      }
      deadline->set(Deadline::Phase::writing, ms(config.request_timeout_ms));
      auto [wec, wn] = co_await http::async_write(stream, response, kTuple);
      if (wec || !keep_alive) {
        if (!wec && close_after) co_await linger(socket, *deadline);
        break;
      }
    }
    if constexpr (!std::is_same_v<Stream, tcp::socket>) {
      if (secured) {
        deadline->set(Deadline::Phase::writing, std::chrono::seconds(2));
        co_await stream.async_shutdown(kTuple);
      }
    }
    close_socket();
    state->alive = false;
    deadline->closed = true;
    deadline->on_expire = nullptr;
    deadline->timer.cancel();
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
  int threads = std::max(1, d.config.io_threads);
  for (int i = 0; i < threads; ++i) {
    d.contexts.push_back(std::make_unique<asio::io_context>(1));
    d.work.push_back(asio::make_work_guard(*d.contexts.back()));
  }
  auto address = asio::ip::make_address(d.config.host);
  tcp::endpoint endpoint(address, static_cast<unsigned short>(d.config.port));
  d.acceptor.emplace(*d.contexts.front());
  d.acceptor->open(endpoint.protocol());
  d.acceptor->set_option(asio::socket_base::reuse_address(true));
  d.acceptor->bind(endpoint);
  d.acceptor->listen(asio::socket_base::max_listen_connections);
  d.workers = std::make_unique<asio::thread_pool>(static_cast<std::size_t>(std::max(1, d.config.worker_threads)));
  auto writers = static_cast<std::size_t>(std::max(1, d.config.write_worker_threads));
  d.write_workers = std::make_unique<WorkerPool>(
      std::min(writers, static_cast<std::size_t>(std::max(1, d.config.write_worker_threads_initial))), writers);
  asio::co_spawn(*d.contexts.front(), d.accept_loop(), asio::detached);
  for (auto& context : d.contexts) d.io_threads.emplace_back([c = context.get()] { c->run(); });
}

unsigned short HttpServer::port() const {
  boost::system::error_code ec;
  return impl_->acceptor ? impl_->acceptor->local_endpoint(ec).port() : 0;
}

int HttpServer::in_flight() const { return impl_->in_flight.load(); }

void HttpServer::shutdown() {
  auto& d = *impl_;
  if (d.stopped) return;
  d.stopped = true;
  d.stopping = true;
  if (d.acceptor) {
    asio::post(*d.contexts.front(), [&d] {
      boost::system::error_code ec;
      d.acceptor->close(ec);
    });
  }
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
  d.work.clear();
  for (auto& context : d.contexts) context->stop();
  for (auto& t : d.io_threads)
    if (t.joinable()) t.join();
  if (d.workers) d.workers->join();
  if (d.write_workers) d.write_workers->join();
}

}  // namespace crm::platform
