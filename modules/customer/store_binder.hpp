#pragma once
// Private to the customer store: parameters of statements whose text is built at run time.

#include <soci/soci.h>

#include <deque>
#include <functional>
#include <string>
#include <vector>

namespace crm::customer::store {

/// Parameters of a statement built at run time, bound in the order they were added.
class Binder {
 public:
  std::string add(std::string v) {
    strings_.push_back(std::move(v));
    const std::string* p = &strings_.back();
    uses_.push_back([p](soci::statement& st) { st.exchange(soci::use(*p)); });
    return next_name();
  }
  std::string add(long long v) {
    numbers_.push_back(v);
    const long long* p = &numbers_.back();
    uses_.push_back([p](soci::statement& st) { st.exchange(soci::use(*p)); });
    return next_name();
  }
  std::string add(double v) {
    reals_.push_back(v);
    const double* p = &reals_.back();
    uses_.push_back([p](soci::statement& st) { st.exchange(soci::use(*p)); });
    return next_name();
  }
  void bind(soci::statement& st) const {
    for (const auto& u : uses_) u(st);
  }
  /// Runs `query` (one integer column, one row: a COUNT) with these parameters.
  long long scalar(soci::session& sql, const std::string& query) const {
    long long n = 0;
    soci::statement st(sql);
    bind(st);
    st.exchange(soci::into(n));
    st.alloc();
    st.prepare(query);
    st.define_and_bind();
    st.execute(true);
    return n;
  }

 private:
  std::string next_name() { return ":p" + std::to_string(count_++); }
  std::deque<std::string> strings_;
  std::deque<long long> numbers_;
  std::deque<double> reals_;
  std::vector<std::function<void(soci::statement&)>> uses_;
  int count_ = 0;
};

}  // namespace crm::customer::store
