#pragma once
// Pure text formats of customer import and export: a streaming RFC 4180 reader, a streaming
// splitter of JSON arrays, CSV cell writing with formula-injection neutralization, and the
// UTF-8 check uploads are held to. Unit tested in tests/modules/customer/domain/csv_test.cpp.

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace crm::customer::domain {

/// Where a reader gets its bytes: fills `buffer` with up to `size` bytes and returns how many
/// (0 at the end).
using ByteSource = std::function<std::size_t(char* buffer, std::size_t size)>;

/// One record of a CSV file.
struct CsvRecord {
  std::vector<std::string> fields;
  std::size_t line = 0;  // physical line the record starts on, from 1
  std::string error;     // a malformed quote in this record ("" when none); fields are best effort
  /// A line with nothing on it (one empty unquoted field).
  bool blank() const { return fields.size() == 1 && fields[0].empty() && !quoted_; }

 private:
  friend class CsvReader;
  bool quoted_ = false;
};

/// Reads RFC 4180 CSV from a source in fixed-size pieces, so memory stays bounded by the
/// longest record: comma separated, fields optionally in double quotes (which may hold commas,
/// line breaks and doubled quotes), records ended by CRLF, LF or CR, a UTF-8 byte order mark
/// at the very start dropped. A quote inside an unquoted field is kept as text; text after a
/// closing quote is kept too but marks the record with an error, as does a quote never closed.
class CsvReader final {
 public:
  explicit CsvReader(ByteSource source, std::size_t chunk = 64 * 1024);
  /// The next record; nullopt at the end. A file ending with a line break has no empty last
  /// record.
  std::optional<CsvRecord> next();
  /// Bytes consumed so far.
  std::size_t offset() const { return consumed_; }

 private:
  int peek();
  int get();
  bool fill();

  ByteSource source_;
  std::string buffer_;
  std::size_t pos_ = 0;
  std::size_t chunk_;
  std::size_t consumed_ = 0;
  std::size_t line_ = 1;
  bool started_ = false;
  bool eof_ = false;
};

/// Splits a JSON array into the text of its elements as it reads, so memory stays bounded by
/// the largest element. Elements are not validated here (the caller parses each); the array
/// itself must be well formed: a problem is thrown as std::invalid_argument with a message
/// fit for a client.
class JsonArrayReader final {
 public:
  explicit JsonArrayReader(ByteSource source, std::size_t chunk = 64 * 1024);
  /// The next element's JSON text; nullopt after the closing bracket.
  std::optional<std::string> next();

 private:
  int peek();
  int get();
  void skip_space();

  ByteSource source_;
  std::string buffer_;
  std::size_t pos_ = 0;
  std::size_t chunk_;
  bool opened_ = false;
  bool closed_ = false;
  bool eof_ = false;
  std::size_t count_ = 0;
};

/// A source reading from text in memory (tests, small bodies), `chunk` bytes at a time.
ByteSource string_source(std::string_view text, std::size_t chunk = 64 * 1024);

/// A cell as RFC 4180 writes it: in double quotes (inner quotes doubled) when it holds a
/// comma, a quote, CR or LF.
std::string csv_cell(std::string_view value);
/// A cell a spreadsheet would read as a formula (it starts with = + - @, a tab or CR) gets a
/// leading single quote, so it is shown as text and never evaluated.
std::string neutralize_formula(std::string_view value);
/// The inverse on import: a single quote followed by one of those characters is dropped, so
/// an exported file reads back to the values it was made from.
std::string restore_formula(std::string_view value);
/// One CSV line (with CRLF) of cells, each neutralized and quoted.
std::string csv_line(const std::vector<std::string>& cells);

/// One part of a multipart/form-data body (RFC 7578); `data` points into the body.
struct MultipartPart {
  std::string name, filename, content_type;
  std::string_view data;
};
/// The boundary parameter of a multipart/form-data Content-Type (quotes removed); nullopt when
/// the type is another or names none.
std::optional<std::string> multipart_boundary(std::string_view content_type);
/// The parts of a multipart/form-data body; a malformed body is thrown as
/// std::invalid_argument with a message fit for a client.
std::vector<MultipartPart> parse_multipart(std::string_view body, std::string_view boundary);

/// Offset of the first byte that is not valid UTF-8 (overlongs, surrogates and code points
/// past U+10FFFF included) or is NUL; nullopt when the text is clean.
std::optional<std::size_t> invalid_utf8_at(std::string_view text);

}  // namespace crm::customer::domain
