// GET /api/v1/customers/export: the customers a listing returns, as CSV, JSON or XLSX, streamed
// with chunked transfer a page at a time (keyset pagination over the listing's own query and
// sort), so memory stays flat whatever the tenant's size. XLSX is a zip that can only be
// finished at its end: libxlsxwriter writes it row by row (constant memory mode) into a
// temporary file under the data directory, which is then streamed and removed.
#include "customer_internal.hpp"

#include "crm/platform/authorization.hpp"
#include "crm/platform/openapi_schema.hpp"
#include "crm/platform/router.hpp"
#include "csv.hpp"

#include <boost/beast/http/field.hpp>
#include <soci/soci.h>
#include <xlsxwriter.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>

namespace crm::customer {

using namespace crm::platform;

namespace {

/// Rows fetched per piece of the body.
constexpr int kExportPage = 500;
/// An XLSX worksheet holds 1,048,576 rows, the header included.
constexpr std::int64_t kXlsxMaxRows = 1048575;
constexpr std::size_t kFilePiece = 64 * 1024;

const std::vector<std::string>& json_fields() {
  static const std::vector<std::string> fields = [] {
    std::vector<std::string> out;
    for (const auto& kv : CustomerRow{}.to_json()) out.emplace_back(kv.key());
    return out;
  }();
  return fields;
}

struct ExportState {
  std::string tenant_id;
  CustomerQuery query;
  std::string format = "csv";
  bool csv = true;                   // CSV and XLSX take the CSV columns
  std::vector<std::string> columns;  // empty for JSON: every field
  std::optional<CsvLayout> layout;   // CSV and XLSX
  bool started = false, done = false;
  std::size_t written = 0;
  std::string data_dir;
  std::string xlsx_path;  // XLSX: the finished workbook being streamed
  std::ifstream xlsx;

  ExportState() = default;
  ExportState(const ExportState&) = delete;
  ExportState& operator=(const ExportState&) = delete;
  ~ExportState() {
    if (xlsx_path.empty()) return;
    xlsx.close();
    std::error_code ec;
    std::filesystem::remove(xlsx_path, ec);
  }
};

/// `fields=`: the columns (CSV) or fields (JSON) to export, in the order given; 400 naming
/// fields for an unknown or repeated one.
std::vector<std::string> read_fields(const std::string& given, bool csv) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  std::size_t start = 0;
  while (true) {
    auto comma = given.find(',', start);
    std::string item = given.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    bool known = csv ? csv_column_known(item)
                     : std::find(json_fields().begin(), json_fields().end(), item) != json_fields().end();
    if (!known) {
      throw Error::bad_parameter("fields", item.empty() ? std::string("A field name is empty.")
                                                        : "Unknown field " + item + (csv ? " (see the CSV columns of this "
                                                                                           "endpoint's description)."
                                                                                         : " (give fields of a customer)."));
    }
    if (!seen.insert(item).second) throw Error::bad_parameter("fields", "Field " + item + " appears twice.");
    out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (out.size() > 200) throw Error::bad_parameter("fields", "At most 200 fields.");
  return out;
}

/// The rows of an export, a page at a time, in the listing's order.
template <class Fn>
void each_page(CustomerContext& cc, ExportState& s, const Fn& fn) {
  CustomerQuery q = s.query;
  q.limit = kExportPage;
  while (true) {
    std::vector<CustomerRow> rows;
    {
      auto lease = cc.db.acquire();
      rows = store::list_customers(*lease, s.tenant_id, q);
    }
    fn(rows);
    if (static_cast<int>(rows.size()) < kExportPage) return;
    q.after = bj::object{{"k", store::sort_values(rows.back(), q.sort)}, {"id", rows.back().id}};
  }
}

/// Writes the whole workbook into a temporary file (one row in memory at a time) and opens it.
void write_xlsx(CustomerContext& cc, ExportState& s) {
  std::filesystem::path dir = std::filesystem::path(s.data_dir) / "exports";
  std::filesystem::create_directories(dir);
  s.xlsx_path = (dir / (new_uuid_v7() + ".xlsx")).string();
  std::string tmpdir = dir.string();
  lxw_workbook_options options{};
  options.constant_memory = LXW_TRUE;
  options.tmpdir = tmpdir.data();
  options.use_zip64 = LXW_TRUE;
  lxw_workbook* workbook = workbook_new_opt(s.xlsx_path.c_str(), &options);
  if (!workbook) throw std::runtime_error("the XLSX workbook could not be created");
  lxw_worksheet* sheet = workbook_add_worksheet(workbook, "Customers");
  lxw_row_t row = 0;
  auto write_row = [&](const std::vector<std::string>& cells) {
    for (std::size_t c = 0; c < cells.size(); ++c) {
      // Text cells: a spreadsheet shows them as they are and never evaluates them.
      if (!cells[c].empty()) worksheet_write_string(sheet, row, static_cast<lxw_col_t>(c), cells[c].c_str(), nullptr);
    }
    ++row;
  };
  try {
    write_row(s.columns);
    each_page(cc, s, [&](const std::vector<CustomerRow>& rows) {
      for (const auto& c : rows) write_row(s.layout->cells(c));
    });
  } catch (...) {
    workbook_close(workbook);
    throw;
  }
  if (workbook_close(workbook) != LXW_NO_ERROR) throw std::runtime_error("the XLSX workbook could not be written");
  s.xlsx.open(s.xlsx_path, std::ios::binary);
  if (!s.xlsx) throw std::runtime_error("the XLSX workbook could not be read back");
}

std::optional<std::string> next_xlsx_piece(CustomerContext& cc, ExportState& s) {
  if (!s.started) {
    s.started = true;
    write_xlsx(cc, s);
  }
  std::string piece(kFilePiece, '\0');
  s.xlsx.read(piece.data(), static_cast<std::streamsize>(piece.size()));
  piece.resize(static_cast<std::size_t>(s.xlsx.gcount()));
  if (piece.empty()) {
    // Sent whole: the file goes before the last chunk does.
    s.xlsx.close();
    std::error_code ec;
    std::filesystem::remove(s.xlsx_path, ec);
    s.xlsx_path.clear();
    return std::nullopt;
  }
  return piece;
}

std::optional<std::string> next_piece(CustomerContext& cc, ExportState& s) {
  if (s.format == "xlsx") return next_xlsx_piece(cc, s);
  if (s.done) return std::nullopt;
  std::string out;
  if (!s.started) {
    s.started = true;
    out = s.csv ? domain::csv_line(s.columns) : "[";
  }
  CustomerQuery q = s.query;
  q.limit = kExportPage;
  // Reads a page and appends each row with `write`; the cursor moves past the page.
  auto page = [&](auto read, auto write) {
    decltype(read(std::declval<soci::session&>())) rows;
    {
      auto lease = cc.db.acquire();
      rows = read(*lease);
    }
    for (auto& c : rows) {
      write(c);
      ++s.written;
    }
    if (static_cast<int>(rows.size()) < kExportPage) {
      s.done = true;
      if (!s.csv) out += s.written ? "\n]\n" : "]\n";
    } else {
      s.query.after = bj::object{{"k", store::sort_values(rows.back(), s.query.sort)}, {"id", rows.back().id}};
    }
  };
  auto rows = [&](soci::session& sql) { return store::list_customers(sql, s.tenant_id, q); };
  auto separator = [&] { out += s.written ? ",\n" : "\n"; };
  if (s.csv) {
    page(rows, [&](const CustomerRow& c) { out += domain::csv_line(s.layout->cells(c)); });
  } else if (s.columns.empty()) {
    // Whole customers: the stored documents as they are.
    page([&](soci::session& sql) { return store::list_customer_documents(sql, s.tenant_id, q); },
         [&](const CustomerDocument& c) {
           separator();
           out += c.json;
         });
  } else {
    page(rows, [&](CustomerRow& c) {
      bj::object o = std::move(c).to_json();  // the cursor needs only the sort keys and id
      bj::object picked;
      for (const auto& f : s.columns) picked[f] = o.at(f);
      separator();
      out += bj::serialize(picked);
    });
  }
  if (out.empty()) return std::nullopt;  // an empty piece would read as the end of the body
  return out;
}

}  // namespace

void register_export_routes(Router& router, CustomerContext& cc) {
  RouteOptions options;
  options.tag = "customers";
  options.openapi = {{"summary", "Export the customers a listing returns as CSV, JSON or XLSX (streamed)"}};
  router.get("/api/v1/customers/export", [&cc](Request& req) {
    const auto& tenant_id = tenant_of(req);
    require_permission(req.context(), "customers:read");
    require_permission(req.context(), "exports:create");
    std::string canonical_sort;
    auto state = std::make_shared<ExportState>();
    state->query = list_query(cc, req, {"format", "fields"}, canonical_sort);
    state->tenant_id = tenant_id;
    std::string format = req.query("format").value_or("csv");
    if (format != "csv" && format != "json" && format != "xlsx") {
      throw Error::bad_parameter("format", "Must be csv, json or xlsx.");
    }
    state->format = format;
    state->csv = format != "json";
    state->data_dir = cc.module.config.data_dir;
    if (format == "xlsx") {
      std::int64_t rows = 0;
      {
        auto lease = cc.db.acquire();
        rows = store::count_customers(*lease, tenant_id, state->query.filter);
      }
      if (rows > kXlsxMaxRows) {
        throw Error::bad_parameter("format", "An XLSX worksheet holds at most 1,048,575 customers; these are " +
                                                 std::to_string(rows) + ". Export as csv or json, or filter.");
      }
    }
    if (auto fields = req.query("fields")) {
      state->columns = read_fields(*fields, state->csv);
    } else if (state->csv) {
      state->columns = csv_columns();
      for (const auto& d : *cc.defaults(tenant_id).custom_fields) state->columns.push_back("custom." + d.key);
    }
    if (state->csv) state->layout.emplace(state->columns);
    const char* type = format == "csv"    ? "text/csv; charset=utf-8"
                       : format == "json" ? "application/json"
                                          : "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
    auto res = streamed_response(req, 200, type, [&cc, state]() { return next_piece(cc, *state); });
    res.set(boost::beast::http::field::content_disposition,
            std::string("attachment; filename=\"customers.") + format + "\"");
    return res;
  }, options);
}

void describe_export_api(Router& router) {
  using namespace openapi;
  std::string columns;
  for (const auto& c : csv_columns()) columns += (columns.empty() ? "" : ", ") + c;
  bj::array params{
      query("format", "csv (default), json or xlsx (at most 1,048,575 customers, else 400 naming format)",
            enum_of({"csv", "json", "xlsx"})),
      query("fields", "Comma-separated columns (CSV, XLSX) or customer fields (JSON) to export, in that order; 400 "
                      "naming fields for an unknown one. Default: every column (also custom.<key> for each "
                      "defined custom field) or every field (JSON)"),
      query("q", "Full-text search, as on GET /customers"),
      query("sort", "As on GET /customers (default -created_at; relevance with q)"),
  };
  for (auto& p : customer_filter_parameters()) params.push_back(std::move(p));
  params.push_back(query("include_deleted", "Also soft-deleted customers (needs customers:delete)", boolean()));
  bj::object csv_schema{{"type", "string"},
                        {"description", "RFC 4180 CSV, UTF-8, CRLF line ends, a header row, then one row per "
                                        "customer. Columns: " + columns +
                                            ", custom.<key>. Tags are joined with commas (a tag never holds one); "
                                            "the first address of each type fills its billing_, shipping_ or "
                                            "other_ columns; money is its amount with a *_currency column. Cells "
                                            "starting with = + - @, a tab or CR are prefixed with a single quote "
                                            "(formula injection); import takes that quote off again"}};
  bj::object ok{{"description", "The customers GET /customers returns for the same filters and sort, in that "
                                "order, streamed with chunked transfer"},
                {"content", bj::object{{"text/csv", bj::object{{"schema", csv_schema}}},
                                       {"application/json", bj::object{{"schema", array_of(ref("Customer"))}}},
                                       {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                                        bj::object{{"schema", bj::object{{"type", "string"},
                                                                         {"format", "binary"},
                                                                         {"description", "One worksheet, Customers: "
                                                                                         "the CSV columns as text cells"}}}}}}}};
  bj::object problem{{"description", "400 an invalid filter, format or fields (the parameter is named); 403 "
                                     "without customers:read and exports:create"},
                     {"content", bj::object{{"application/problem+json", bj::object{{"schema", ref("Problem")}}}}}};
  router.describe(HttpVerb::get, "/api/v1/customers/export",
                  {{"description", "Needs customers:read and exports:create (owner, admin, manager, marketing)."},
                   {"parameters", std::move(params)},
                   {"responses", {{"200", ok}, {"4XX", problem}}}});
}

}  // namespace crm::customer
