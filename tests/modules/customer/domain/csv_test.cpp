// The text formats of customer import and export: RFC 4180 reading in pieces, JSON array
// splitting, cell quoting and formula neutralization, the UTF-8 check.
#include <doctest/doctest.h>

#include "csv.hpp"

#include <stdexcept>

using namespace crm::customer::domain;

namespace {

/// Every record of a text, read `chunk` bytes at a time.
std::vector<CsvRecord> read_all(std::string_view text, std::size_t chunk = 64 * 1024) {
  CsvReader reader(string_source(text, chunk), chunk);
  std::vector<CsvRecord> out;
  while (auto r = reader.next()) out.push_back(std::move(*r));
  return out;
}

std::vector<std::vector<std::string>> fields_of(const std::vector<CsvRecord>& records) {
  std::vector<std::vector<std::string>> out;
  for (const auto& r : records) out.push_back(r.fields);
  return out;
}

std::vector<std::string> elements(std::string_view text, std::size_t chunk = 64 * 1024) {
  JsonArrayReader reader(string_source(text, chunk), chunk);
  std::vector<std::string> out;
  while (auto e = reader.next()) out.push_back(*e);
  return out;
}

}  // namespace

TEST_SUITE("customer/domain") {
  TEST_CASE("csv: quoted fields keep commas, doubled quotes and line breaks, whatever the chunk size") {
    std::string text = "name,notes\r\n\"Batik, Sdn Bhd\",\"say \"\"hi\"\"\"\r\n\"two\nlines\",x\r\n";
    for (std::size_t chunk : {1, 2, 3, 7, 64 * 1024}) {
      CAPTURE(chunk);
      auto records = read_all(text, chunk);
      REQUIRE(records.size() == 3);
      CHECK(fields_of(records) == std::vector<std::vector<std::string>>{
                                      {"name", "notes"}, {"Batik, Sdn Bhd", "say \"hi\""}, {"two\nlines", "x"}});
      CHECK(records[0].line == 1);
      CHECK(records[1].line == 2);
      CHECK(records[2].line == 3);
      for (const auto& r : records) CHECK(r.error.empty());
    }
  }

  TEST_CASE("csv: a byte order mark is dropped and LF, CRLF and CR all end a record") {
    auto records = read_all("\xEF\xBB\xBFname\na\r\nb\rc", 2);
    CHECK(fields_of(records) == std::vector<std::vector<std::string>>{{"name"}, {"a"}, {"b"}, {"c"}});
    // Without a BOM the first bytes stay.
    CHECK(read_all("\xEF\xBB", 1).at(0).fields.at(0) == "\xEF\xBB");
    CHECK(read_all("ab").at(0).fields.at(0) == "ab");
  }

  TEST_CASE("csv: blank lines are records of one empty field, a quoted empty field is not blank") {
    auto records = read_all("a,b\n\n1,2\n\"\"\n");
    REQUIRE(records.size() == 4);
    CHECK_FALSE(records[0].blank());
    CHECK(records[1].blank());
    CHECK(records[2].fields == std::vector<std::string>{"1", "2"});
    CHECK_FALSE(records[3].blank());
    CHECK(records[3].fields == std::vector<std::string>{""});
    CHECK(records[2].line == 3);
  }

  TEST_CASE("csv: empty fields, a missing final line break and an empty file") {
    CHECK(fields_of(read_all("a,,c")) == std::vector<std::vector<std::string>>{{"a", "", "c"}});
    CHECK(fields_of(read_all(",\n")) == std::vector<std::vector<std::string>>{{"", ""}});
    CHECK(read_all("").empty());
    CHECK(read_all("\xEF\xBB\xBF").empty());
  }

  TEST_CASE("csv: malformed quoting is reported on its record and reading goes on") {
    auto records = read_all("a\"b,c\n\"x\"y,z\nok\n");
    REQUIRE(records.size() == 3);
    CHECK(records[0].fields == std::vector<std::string>{"a\"b", "c"});  // a bare quote inside is text
    CHECK(records[0].error.empty());
    CHECK(records[1].fields == std::vector<std::string>{"xy", "z"});
    CHECK_FALSE(records[1].error.empty());
    CHECK(records[2].fields == std::vector<std::string>{"ok"});
    auto open = read_all("a\n\"never closed\nb\n");
    REQUIRE(open.size() == 2);
    CHECK_FALSE(open[1].error.empty());
    CHECK(open[1].fields.at(0) == "never closed\nb\n");
  }

  TEST_CASE("csv: lines are counted across quoted line breaks") {
    auto records = read_all("h\n\"1\r\n2\r\n3\"\nnext\n");
    REQUIRE(records.size() == 3);
    CHECK(records[1].line == 2);
    CHECK(records[2].line == 5);
  }

  TEST_CASE("csv: cells with a comma, a quote or a line break are quoted, others are not") {
    CHECK(csv_cell("plain") == "plain");
    CHECK(csv_cell("a,b") == "\"a,b\"");
    CHECK(csv_cell("say \"hi\"") == "\"say \"\"hi\"\"\"");
    CHECK(csv_cell("two\nlines") == "\"two\nlines\"");
    CHECK(csv_cell("cr\r") == "\"cr\r\"");
    CHECK(csv_cell("") == "");
  }

  TEST_CASE("csv: cells a spreadsheet would evaluate get a leading quote, and import takes it off again") {
    for (const char* f : {"=1+1", "+60123456789", "-5", "@SUM(A1)", "\tx", "\rx"}) {
      CAPTURE(f);
      CHECK(neutralize_formula(f) == std::string("'") + f);
      CHECK(restore_formula(neutralize_formula(f)) == f);
    }
    CHECK(neutralize_formula("Batik") == "Batik");
    CHECK(neutralize_formula("") == "");
    CHECK(restore_formula("'quoted") == "'quoted");
    CHECK(csv_line({"=HYPERLINK(\"x\")", "a,b", "ok"}) == "\"'=HYPERLINK(\"\"x\"\")\",\"a,b\",ok\r\n");
  }

  TEST_CASE("csv: a written line reads back to its cells") {
    std::vector<std::string> cells = {"Batik, \"Murni\"", "line1\r\nline2", "", "plain", "=cmd"};
    auto records = read_all(csv_line(cells) + csv_line(cells), 3);
    REQUIRE(records.size() == 2);
    for (const auto& r : records) {
      REQUIRE(r.fields.size() == cells.size());
      for (std::size_t i = 0; i < cells.size(); ++i) CHECK(restore_formula(r.fields[i]) == cells[i]);
    }
  }

  TEST_CASE("json: an array is split into its elements, nesting and strings with brackets included") {
    std::string text = "\xEF\xBB\xBF [{\"a\": [1, {\"b\": \"]},\\\"\"}]}, {\"n\":\"x\"} ,3,\"s\"]  ";
    for (std::size_t chunk : {1, 4, 64 * 1024}) {
      CAPTURE(chunk);
      auto e = elements(text, chunk);
      CHECK(e == std::vector<std::string>{"{\"a\": [1, {\"b\": \"]},\\\"\"}]}", "{\"n\":\"x\"}", "3", "\"s\""});
    }
    CHECK(elements("[]").empty());
    CHECK(elements(" [ ] \n").empty());
  }

  TEST_CASE("json: a body that is not a well-formed array is refused with a reason") {
    CHECK_THROWS_AS(elements("{\"name\": \"x\"}"), std::invalid_argument);
    CHECK_THROWS_AS(elements("[{}"), std::invalid_argument);
    CHECK_THROWS_AS(elements("[{} {}]"), std::invalid_argument);
    CHECK_THROWS_AS(elements("[{},]"), std::invalid_argument);
    CHECK_THROWS_AS(elements("[{}] x"), std::invalid_argument);
    CHECK_THROWS_AS(elements("[{\"a\": \"open]"), std::invalid_argument);
    CHECK_THROWS_AS(elements(""), std::invalid_argument);
  }

  TEST_CASE("utf-8: valid text passes, NUL, broken sequences, overlongs and surrogates do not") {
    CHECK_FALSE(invalid_utf8_at("Kilang Desa Murni — batik 日本 😀").has_value());
    CHECK(invalid_utf8_at(std::string("ab\0c", 4)) == 2u);
    CHECK(invalid_utf8_at("a\xC3") == 1u);
    CHECK(invalid_utf8_at("\xC0\xAF") == 0u);
    CHECK(invalid_utf8_at("x\xED\xA0\x80") == 1u);
    CHECK(invalid_utf8_at("\xF4\x90\x80\x80") == 0u);
    CHECK(invalid_utf8_at("\x89PNG") == 0u);
  }

  TEST_CASE("multipart: the boundary is read from the content type and the parts are split") {
    CHECK(multipart_boundary("multipart/form-data; boundary=abc123") == std::optional<std::string>("abc123"));
    CHECK(multipart_boundary("Multipart/Form-Data; charset=utf-8; boundary=\"a b\"") == std::optional<std::string>("a b"));
    CHECK_FALSE(multipart_boundary("text/csv").has_value());
    CHECK_FALSE(multipart_boundary("multipart/form-data").has_value());
    std::string body =
        "preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"on_duplicate\"\r\n\r\nupdate\r\n"
        "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"pelanggan.csv\"\r\n"
        "Content-Type: text/csv\r\n\r\nname\r\n\"a\r\n--b\"\r\n\r\n--XyZ--\r\n";
    auto parts = parse_multipart(body, "XyZ");
    REQUIRE(parts.size() == 2);
    CHECK(parts[0].name == "on_duplicate");
    CHECK(parts[0].data == "update");
    CHECK(parts[1].name == "file");
    CHECK(parts[1].filename == "pelanggan.csv");
    CHECK(parts[1].content_type == "text/csv");
    CHECK(parts[1].data == "name\r\n\"a\r\n--b\"\r\n");
    CHECK_THROWS_AS(parse_multipart("no parts", "XyZ"), std::invalid_argument);
    CHECK_THROWS_AS(parse_multipart("--XyZ\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nopen", "XyZ"),
                    std::invalid_argument);
  }
}
