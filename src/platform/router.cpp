#include "crm/platform/router.hpp"

#include <boost/beast/http/verb.hpp>

#include <stdexcept>

namespace crm::platform {

struct Router::Node {
  std::map<std::string, std::unique_ptr<Node>, std::less<>> literals;
  std::unique_ptr<Node> param;
  std::string param_name;
  std::vector<const Route*> routes;  // one per method
};

Router::Router() : root_(std::make_unique<Node>()) {}
Router::~Router() = default;

namespace {

std::vector<std::string_view> segments(std::string_view path) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    std::size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    out.push_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

}  // namespace

void Router::add(HttpVerb method, std::string pattern, Handler handler, RouteOptions options) {
  if (pattern.empty() || pattern[0] != '/') throw std::invalid_argument("route must start with '/': " + pattern);
  // Validate before touching the tree, so a refused route leaves nothing behind.
  for (auto seg : segments(pattern)) {
    bool param = seg.size() >= 2 && seg.front() == '{' && seg.back() == '}';
    auto inner = param ? seg.substr(1, seg.size() - 2) : seg;
    if ((param && inner.empty()) || inner.find_first_of("{}") != std::string_view::npos) {
      throw std::invalid_argument("malformed route " + pattern);
    }
  }
  Node* node = root_.get();
  for (auto seg : segments(pattern)) {
    if (seg.size() >= 2 && seg.front() == '{' && seg.back() == '}') {
      std::string name(seg.substr(1, seg.size() - 2));
      if (name.empty() || name.find_first_of("{}") != std::string::npos) throw std::invalid_argument("malformed route " + pattern);
      if (!node->param) {
        node->param = std::make_unique<Node>();
        node->param->param_name = name;
      } else if (node->param->param_name != name) {
        throw std::invalid_argument("conflicting parameter names at " + pattern);
      }
      node = node->param.get();
    } else {
      if (seg.find_first_of("{}") != std::string_view::npos) throw std::invalid_argument("malformed route " + pattern);
      auto it = node->literals.find(seg);
      if (it == node->literals.end()) it = node->literals.emplace(std::string(seg), std::make_unique<Node>()).first;
      node = it->second.get();
    }
  }
  for (const Route* r : node->routes) {
    if (r->method == method) throw std::invalid_argument("duplicate route " + pattern);
  }
  routes_.push_back(Route{method, std::move(pattern), std::move(handler), std::move(options)});
  node->routes.push_back(&routes_.back());
}

namespace {

// Depth-first: literal children before the parameter child, backtracking when a branch fails.
template <class NodeT>
const NodeT* find(const NodeT* node, const std::vector<std::string_view>& segs, std::size_t i,
                  std::vector<std::pair<std::string, std::string>>& params) {
  if (i == segs.size()) return node->routes.empty() ? nullptr : node;
  auto it = node->literals.find(segs[i]);
  if (it != node->literals.end()) {
    if (const NodeT* found = find(it->second.get(), segs, i + 1, params)) return found;
  }
  if (node->param && !segs[i].empty()) {
    params.emplace_back(node->param->param_name, std::string(segs[i]));
    if (const NodeT* found = find(node->param.get(), segs, i + 1, params)) return found;
    params.pop_back();
  }
  return nullptr;
}

}  // namespace

void Router::describe(HttpVerb method, std::string_view pattern, const boost::json::object& operation) {
  for (auto& r : routes_) {
    if (r.method == method && r.pattern == pattern) {
      for (const auto& kv : operation) r.options.openapi[kv.key()] = kv.value();
      return;
    }
  }
  throw std::invalid_argument("describe: no route " + std::string(pattern));
}

void Router::add_schema(const std::string& name, boost::json::object schema) { schemas_[name] = std::move(schema); }

Router::Match Router::match(HttpVerb method, std::string_view path) const {
  Match m;
  auto segs = segments(path);
  const Node* node = find(root_.get(), segs, 0, m.params);
  if (!node) {
    m.params.clear();
    return m;
  }
  HttpVerb wanted = method == HttpVerb::head ? HttpVerb::get : method;
  for (const Route* r : node->routes) {
    if (r->method == wanted) {
      m.status = Match::Status::found;
      m.route = r;
      return m;
    }
  }
  m.status = Match::Status::method_not_allowed;
  m.params.clear();
  bool has_get = false;
  for (const Route* r : node->routes) {
    if (!m.allow.empty()) m.allow += ", ";
    m.allow += std::string(boost::beast::http::to_string(r->method));
    has_get = has_get || r->method == HttpVerb::get;
  }
  if (has_get) m.allow += ", HEAD";
  return m;
}

}  // namespace crm::platform
