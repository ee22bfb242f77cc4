// Status and Result<T>: the one error style at module boundaries (LevelDB style).
//
// A Status is either OK or carries a code and a human-readable message. Functions
// that can fail for reasons outside the programmer's control (bad input, I/O,
// remote services) return Status or Result<T>; they never throw across a module
// boundary. Library exceptions are caught where the library is called.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace sa {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // caller gave something malformed (bad image, bad query)
  kNotFound,         // a photo, file, tensor or model that does not exist
  kAlreadyExists,
  kCorruption,       // a file whose bytes contradict its format
  kIOError,          // the OS refused a read/write
  kUnavailable,      // a dependency is missing or down (no model, remote API down)
  kResourceExhausted,  // size/pixel limits, rate limits
  kTimeout,
  kUnimplemented,    // a known format or architecture we do not support (yet)
  kInternal,
};

const char* status_code_name(StatusCode code);  // "invalid_argument", ...

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status OK() { return Status(); }
  static Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
  static Status Corruption(std::string m) { return {StatusCode::kCorruption, std::move(m)}; }
  static Status IOError(std::string m) { return {StatusCode::kIOError, std::move(m)}; }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status ResourceExhausted(std::string m) { return {StatusCode::kResourceExhausted, std::move(m)}; }
  static Status Timeout(std::string m) { return {StatusCode::kTimeout, std::move(m)}; }
  static Status Unimplemented(std::string m) { return {StatusCode::kUnimplemented, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "corruption: tensor 'x' ends past the end of the file"
  std::string to_string() const;

  // Returns a copy whose message is "prefix: message" (adds context while propagating).
  Status with_context(const std::string& prefix) const {
    if (ok()) return *this;
    return Status(code_, prefix + ": " + message_);
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Result<T>: a T or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}              // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {        // NOLINT
    assert(!std::get<Status>(v_).ok() && "Result constructed from an OK Status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { assert(ok()); return std::get<T>(v_); }
  const T& value() const& { assert(ok()); return std::get<T>(v_); }
  T&& value() && { assert(ok()); return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace sa

// Propagation helpers.
#define SA_RETURN_IF_ERROR(expr)               \
  do {                                         \
    ::sa::Status sa_status_ = (expr);          \
    if (!sa_status_.ok()) return sa_status_;   \
  } while (0)

#define SA_CONCAT_INNER(a, b) a##b
#define SA_CONCAT(a, b) SA_CONCAT_INNER(a, b)
// SA_ASSIGN_OR_RETURN(auto x, make_x()); -- declares x or returns the error.
#define SA_ASSIGN_OR_RETURN(lhs, expr) \
  SA_ASSIGN_OR_RETURN_IMPL(SA_CONCAT(sa_result_, __LINE__), lhs, expr)
#define SA_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(tmp).value()
