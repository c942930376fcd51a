#pragma once
// Private to the customer store: parameters of statements whose text is built at run time.

#include "crm/platform/db.hpp"

#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <deque>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

namespace crm::customer::store {

/// Parameters of a statement built at run time, bound in the order they were added.
class Binder {
 public:
  std::string add(std::string v) {
    strings_.push_back(std::move(v));
    params_.emplace_back(&strings_.back());
    return next_name();
  }
  std::string add(long long v) {
    numbers_.push_back(v);
    params_.emplace_back(&numbers_.back());
    return next_name();
  }
  std::string add(double v) {
    reals_.push_back(v);
    params_.emplace_back(&reals_.back());
    return next_name();
  }
  void bind(soci::statement& st) const {
    for (const auto& p : params_) std::visit([&st](const auto* v) { st.exchange(soci::use(*v)); }, p);
  }
  /// Binds the parameters to a statement of the SQLite API, by name.
  void bind(platform::SqliteQuery& query) const {
    for (std::size_t i = 0; i < params_.size(); ++i) {
      int index = query.parameter((":p" + std::to_string(i)).c_str());
      std::visit(
          [&](const auto* v) {
            if constexpr (std::is_same_v<std::decay_t<decltype(*v)>, std::string>) query.bind(index, std::string_view(*v));
            else query.bind(index, *v);
          },
          params_[i]);
    }
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
  std::vector<std::variant<const std::string*, const long long*, const double*>> params_;
  int count_ = 0;
};

}  // namespace crm::customer::store
