#include "crm/platform/metrics.hpp"

#include <fmt/format.h>

#include <cmath>
#include <tuple>

namespace crm::platform {

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<std::uint64_t>[bounds_.size()]) {
  for (std::size_t i = 0; i < bounds_.size(); ++i) buckets_[i].store(0);
}

void Histogram::observe(double seconds) noexcept {
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    if (seconds <= bounds_[i]) {
      buckets_[i].fetch_add(1, std::memory_order_relaxed);
      break;
    }
  }
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_micros_.fetch_add(static_cast<std::uint64_t>(std::llround(seconds * 1e6)), std::memory_order_relaxed);
}

double Histogram::sum() const noexcept {
  return static_cast<double>(sum_micros_.load(std::memory_order_relaxed)) / 1e6;
}

const std::vector<double>& MetricsRegistry::default_latency_bounds() {
  static const std::vector<double> bounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                             0.05,   0.1,   0.25,   0.5,   1.0,  2.5, 5.0, 10.0};
  return bounds;
}

namespace {

std::string escape_label(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string label_text(const Labels& labels, const std::string& extra = {}) {
  if (labels.empty() && extra.empty()) return {};
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ",";
    first = false;
    out += k + "=\"" + escape_label(v) + "\"";
  }
  if (!extra.empty()) {
    if (!first) out += ",";
    out += extra;
  }
  out += "}";
  return out;
}

std::string number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

}  // namespace

MetricsRegistry::Family& MetricsRegistry::family(const std::string& name, const std::string& type,
                                                 const std::string& help) {
  auto& f = families_[name];
  if (f.type.empty()) {
    f.type = type;
    f.help = help;
  }
  return f;
}

Counter& MetricsRegistry::counter(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mutex_);
  auto& f = family(name, "counter", help);
  auto& slot = f.counters[label_text(labels)];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

Histogram& MetricsRegistry::histogram(const std::string& name, const std::string& help,
                                      const Labels& labels, const std::vector<double>& bounds) {
  std::lock_guard lock(mutex_);
  auto& f = family(name, "histogram", help);
  std::string key = label_text(labels);
  auto& slot = f.histograms[key];
  if (!slot) slot = std::make_unique<Histogram>(bounds);
  return *slot;
}

void MetricsRegistry::gauge(const std::string& name, const std::string& help, GaugeFn fn) {
  std::lock_guard lock(mutex_);
  family(name, "gauge", help).gauge = std::move(fn);
}

std::string MetricsRegistry::render() const {
  // Gauges may query the database: call them outside the lock.
  std::vector<std::tuple<std::string, std::string, GaugeFn>> gauges;
  std::unique_lock lock(mutex_);
  std::string out;
  out.reserve(16384);
  for (const auto& [name, f] : families_) {
    if (f.gauge) {
      gauges.emplace_back(name, f.help, f.gauge);
      continue;
    }
    out += "# HELP " + name + " " + f.help + "\n";
    out += "# TYPE " + name + " " + f.type + "\n";
    for (const auto& [labels, c] : f.counters) {
      out += name + labels + " " + std::to_string(c->value()) + "\n";
    }
    for (const auto& [labels, h] : f.histograms) {
      // Rebuild the label list so `le` can be appended inside the braces.
      std::string inner = labels.empty() ? std::string() : labels.substr(1, labels.size() - 2);
      auto with_le = [&](const std::string& le) {
        return "{" + (inner.empty() ? std::string() : inner + ",") + "le=\"" + le + "\"}";
      };
      std::uint64_t cumulative = 0;
      for (std::size_t i = 0; i < h->bounds().size(); ++i) {
        cumulative += h->bucket(i);
        out += name + "_bucket" + with_le(number(h->bounds()[i])) + " " + std::to_string(cumulative) + "\n";
      }
      out += name + "_bucket" + with_le("+Inf") + " " + std::to_string(h->count()) + "\n";
      out += name + "_sum" + labels + " " + number(h->sum()) + "\n";
      out += name + "_count" + labels + " " + std::to_string(h->count()) + "\n";
    }
  }
  lock.unlock();
  for (const auto& [name, help, fn] : gauges) {
    out += "# HELP " + name + " " + help + "\n# TYPE " + name + " gauge\n";
    for (const auto& [labels, value] : fn()) out += name + label_text(labels) + " " + number(value) + "\n";
  }
  return out;
}

}  // namespace crm::platform
