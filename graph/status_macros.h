// Status propagation macros and CHECK for kiln's own invariants.
//
// Abseil 20220623 ships neither status macros nor logging, so kiln keeps its
// own small set here. Use them in every function that returns absl::Status or
// absl::StatusOr<T>:
//
//   absl::StatusOr<Buffer> Load(const std::string& path) {
//     KILN_ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
//     KILN_RETURN_IF_ERROR(Validate(bytes));
//     ...
//   }
//
// KILN_CHECK aborts with a message; it guards kiln's own broken invariants,
// never user mistakes (those get a Status).
#ifndef KILN_GRAPH_STATUS_MACROS_H_
#define KILN_GRAPH_STATUS_MACROS_H_

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define KILN_CONCAT_INNER_(a, b) a##b
#define KILN_CONCAT_(a, b) KILN_CONCAT_INNER_(a, b)

#define KILN_RETURN_IF_ERROR(expr)                   \
  do {                                               \
    ::absl::Status kiln_status_ = (expr);            \
    if (!kiln_status_.ok()) return kiln_status_;     \
  } while (0)

#define KILN_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return std::move(tmp).status();    \
  lhs = std::move(tmp).value()

#define KILN_ASSIGN_OR_RETURN(lhs, expr) \
  KILN_ASSIGN_OR_RETURN_IMPL_(KILN_CONCAT_(kiln_statusor_, __LINE__), lhs, expr)

namespace kiln::internal {
[[noreturn]] inline void CheckFailed(const char* file, int line,
                                     const char* cond, const char* msg) {
  std::fprintf(stderr, "%s:%d: kiln internal check failed: %s %s\n", file,
               line, cond, msg);
  std::abort();
}
}  // namespace kiln::internal

#define KILN_CHECK(cond)                                                 \
  do {                                                                   \
    if (!(cond))                                                         \
      ::kiln::internal::CheckFailed(__FILE__, __LINE__, #cond, "");      \
  } while (0)

#define KILN_CHECK_MSG(cond, msg)                                        \
  do {                                                                   \
    if (!(cond))                                                         \
      ::kiln::internal::CheckFailed(__FILE__, __LINE__, #cond, (msg));   \
  } while (0)

#define KILN_CHECK_OK(expr)                                              \
  do {                                                                   \
    ::absl::Status kiln_check_status_ = (expr);                          \
    if (!kiln_check_status_.ok())                                        \
      ::kiln::internal::CheckFailed(                                     \
          __FILE__, __LINE__, #expr,                                     \
          std::string(kiln_check_status_.message()).c_str());            \
  } while (0)

#endif  // KILN_GRAPH_STATUS_MACROS_H_
