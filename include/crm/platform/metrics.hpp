#pragma once
/// Prometheus metrics: counters, histograms and gauges rendered in the text exposition format.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace crm::platform {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter final {
 public:
  void inc(std::uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class Histogram final {
 public:
  /// `bounds` are the upper bounds of the buckets in seconds, ascending.
  explicit Histogram(std::vector<double> bounds);
  void observe(double seconds) noexcept;
  const std::vector<double>& bounds() const noexcept { return bounds_; }
  std::uint64_t bucket(std::size_t i) const noexcept { return buckets_[i].load(std::memory_order_relaxed); }
  std::uint64_t count() const noexcept { return count_.load(std::memory_order_relaxed); }
  double sum() const noexcept;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_micros_{0};
};

/// Owns every metric; returned references stay valid for the registry's lifetime.
class MetricsRegistry final {
 public:
  using GaugeSample = std::pair<Labels, double>;
  using GaugeFn = std::function<std::vector<GaugeSample>()>;

  Counter& counter(const std::string& name, const std::string& help, const Labels& labels = {});
  Histogram& histogram(const std::string& name, const std::string& help, const Labels& labels = {},
                       const std::vector<double>& bounds = default_latency_bounds());
  /// A gauge computed when scraped (pool size, outbox lag...).
  void gauge(const std::string& name, const std::string& help, GaugeFn fn);
  /// The Prometheus text exposition of everything registered.
  std::string render() const;

  static const std::vector<double>& default_latency_bounds();

 private:
  struct Family {
    std::string type;
    std::string help;
    std::map<std::string, std::unique_ptr<Counter>> counters;
    std::map<std::string, std::unique_ptr<Histogram>> histograms;
    GaugeFn gauge;
  };
  Family& family(const std::string& name, const std::string& type, const std::string& help);

  mutable std::mutex mutex_;
  std::map<std::string, Family> families_;
};

}  // namespace crm::platform
