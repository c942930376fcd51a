#include "crm/platform/metrics.hpp"

#include <doctest/doctest.h>

#include <sstream>
#include <string>
#include <vector>

namespace {

using crm::platform::Labels;
using crm::platform::MetricsRegistry;

bool has_line(const std::string& text, const std::string& line) {
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (l == line) return true;
  return false;
}

std::size_t count_lines_starting(const std::string& text, const std::string& prefix) {
  std::istringstream in(text);
  std::size_t n = 0;
  for (std::string l; std::getline(in, l);)
    if (l.rfind(prefix, 0) == 0) ++n;
  return n;
}

}  // namespace

TEST_SUITE("platform/metrics") {
  TEST_CASE("a counter renders with HELP, TYPE and its labelled value") {
    MetricsRegistry m;
    auto& c = m.counter("crm_logins_total", "Login attempts", {{"result", "failed"}});
    c.inc();
    c.inc(4);
    auto text = m.render();
    CAPTURE(text);
    CHECK(has_line(text, "# HELP crm_logins_total Login attempts"));
    CHECK(has_line(text, "# TYPE crm_logins_total counter"));
    CHECK(has_line(text, "crm_logins_total{result=\"failed\"} 5"));
  }

  TEST_CASE("the same name and labels return the same counter and other labels another") {
    MetricsRegistry m;
    auto& a = m.counter("crm_x_total", "x", {{"k", "1"}});
    auto& b = m.counter("crm_x_total", "x", {{"k", "1"}});
    auto& c = m.counter("crm_x_total", "x", {{"k", "2"}});
    CHECK(&a == &b);
    CHECK(&a != &c);
    a.inc();
    b.inc();
    c.inc();
    auto text = m.render();
    CAPTURE(text);
    CHECK(has_line(text, "crm_x_total{k=\"1\"} 2"));
    CHECK(has_line(text, "crm_x_total{k=\"2\"} 1"));
    CHECK(count_lines_starting(text, "# TYPE crm_x_total") == 1);
  }

  TEST_CASE("a counter without labels renders bare") {
    MetricsRegistry m;
    m.counter("crm_plain_total", "plain").inc(3);
    CHECK(has_line(m.render(), "crm_plain_total 3"));
  }

  TEST_CASE("a histogram renders cumulative buckets, +Inf, sum and count") {
    MetricsRegistry m;
    auto& h = m.histogram("crm_req_seconds", "latency", {{"route", "/x"}}, {0.1, 0.5, 1.0});
    h.observe(0.05);
    h.observe(0.1);  // on a bound: counts in that bucket
    h.observe(0.3);
    h.observe(2.0);  // above every bound: only +Inf
    CHECK(h.count() == 4);
    CHECK(h.sum() == doctest::Approx(2.45));
    auto text = m.render();
    CAPTURE(text);
    CHECK(has_line(text, "# TYPE crm_req_seconds histogram"));
    CHECK(has_line(text, "crm_req_seconds_bucket{route=\"/x\",le=\"0.1\"} 2"));
    CHECK(has_line(text, "crm_req_seconds_bucket{route=\"/x\",le=\"0.5\"} 3"));
    CHECK(has_line(text, "crm_req_seconds_bucket{route=\"/x\",le=\"1\"} 3"));
    CHECK(has_line(text, "crm_req_seconds_bucket{route=\"/x\",le=\"+Inf\"} 4"));
    CHECK(has_line(text, "crm_req_seconds_sum{route=\"/x\"} 2.45"));
    CHECK(has_line(text, "crm_req_seconds_count{route=\"/x\"} 4"));
  }

  TEST_CASE("a histogram without labels puts le alone in the braces") {
    MetricsRegistry m;
    m.histogram("crm_job_seconds", "jobs", {}, {1.0}).observe(0.5);
    auto text = m.render();
    CAPTURE(text);
    CHECK(has_line(text, "crm_job_seconds_bucket{le=\"1\"} 1"));
    CHECK(has_line(text, "crm_job_seconds_bucket{le=\"+Inf\"} 1"));
    CHECK(has_line(text, "crm_job_seconds_count 1"));
  }

  TEST_CASE("the default latency buckets are ascending and span sub-millisecond to seconds") {
    const auto& b = MetricsRegistry::default_latency_bounds();
    REQUIRE(b.size() >= 2);
    for (std::size_t i = 1; i < b.size(); ++i) CHECK(b[i - 1] < b[i]);
    CHECK(b.front() <= 0.001);
    CHECK(b.back() >= 5.0);
  }

  TEST_CASE("label values escape backslash, quote and newline") {
    MetricsRegistry m;
    m.counter("crm_esc_total", "escaping", {{"path", "a\\b\"c\nd"}}).inc();
    auto text = m.render();
    CAPTURE(text);
    CHECK(has_line(text, "crm_esc_total{path=\"a\\\\b\\\"c\\nd\"} 1"));
  }

  TEST_CASE("labels keep their given order") {
    MetricsRegistry m;
    m.counter("crm_req_total", "r", {{"method", "GET"}, {"route", "/a"}, {"status", "200"}}).inc();
    CHECK(has_line(m.render(), "crm_req_total{method=\"GET\",route=\"/a\",status=\"200\"} 1"));
  }

  TEST_CASE("a gauge is computed at scrape time with its samples") {
    MetricsRegistry m;
    double pending = 3;
    m.gauge("crm_outbox_pending", "pending events", [&] {
      return std::vector<MetricsRegistry::GaugeSample>{{Labels{{"subscriber", "mailer"}}, pending},
                                                       {Labels{}, 0.5}};
    });
    auto first = m.render();
    CAPTURE(first);
    CHECK(has_line(first, "# HELP crm_outbox_pending pending events"));
    CHECK(has_line(first, "# TYPE crm_outbox_pending gauge"));
    CHECK(has_line(first, "crm_outbox_pending{subscriber=\"mailer\"} 3"));
    CHECK(has_line(first, "crm_outbox_pending 0.5"));
    pending = 7;
    CHECK(has_line(m.render(), "crm_outbox_pending{subscriber=\"mailer\"} 7"));
  }

  TEST_CASE("every rendered line is a comment or a sample and the text ends with a newline") {
    MetricsRegistry m;
    m.counter("crm_a_total", "a").inc();
    m.histogram("crm_b_seconds", "b").observe(0.002);
    m.gauge("crm_c", "c", [] { return std::vector<MetricsRegistry::GaugeSample>{{Labels{}, 1}}; });
    auto text = m.render();
    REQUIRE_FALSE(text.empty());
    CHECK(text.back() == '\n');
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) {
      CAPTURE(l);
      CHECK_FALSE(l.empty());
      bool comment = l.rfind("# HELP ", 0) == 0 || l.rfind("# TYPE ", 0) == 0;
      bool sample = l.rfind("crm_", 0) == 0 && l.find(' ') != std::string::npos;
      CHECK((comment || sample));
    }
    // One bucket line per default bound plus +Inf.
    CHECK(count_lines_starting(text, "crm_b_seconds_bucket") == MetricsRegistry::default_latency_bounds().size() + 1);
  }
}
