// .npy files (layers/npy.h) and atomic writes (graph/file_io.h): round trips
// for every dtype and shape kind, the exact header numpy expects, fixtures
// written by real numpy (tests/data/npy/make_npy_fixtures.py), rejected
// dtypes, a table of malformed files, and that a failed write keeps the old
// file.
#include "layers/npy.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "graph/file_io.h"

namespace kiln {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string Fixture(const std::string& name) {
  return absl::StrCat(KILN_TEST_DATA_DIR, "/npy/", name);
}

std::string ReadOrDie(const std::string& path) {
  auto bytes = ReadFileToString(path);
  KILN_CHECK_OK(bytes.status());
  return *bytes;
}

// A fresh directory under the test temp dir, removed with its files.
class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = ::testing::TempDir() + "/kiln_npy_XXXXXX";
    KILN_CHECK(::mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
  }
  ~ScratchDir() {
    ::chmod(path_.c_str(), 0755);
    for (const std::string& f : Files()) ::unlink((path_ + "/" + f).c_str());
    ::rmdir(path_.c_str());
  }
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }
  std::vector<std::string> Files() const {
    std::vector<std::string> out;
    DIR* d = ::opendir(path_.c_str());
    if (d == nullptr) return out;
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") out.push_back(n);
    }
    ::closedir(d);
    return out;
  }

 private:
  std::string path_;
};

// Deterministic contents covering negative values and every bool state.
Buffer Sample(DType dtype, Shape shape) {
  Buffer b(dtype, std::move(shape));
  for (int64_t i = 0; i < b.num_elements(); ++i) {
    b.SetFromDouble(
        i, dtype == DType::kBool ? (i * 7 % 3 == 0) : (i * 37 % 11) - 5.25);
  }
  if (dtype == DType::kI64 && b.num_elements() > 0) {
    b.data<int64_t>()[0] = int64_t{1} << 40;
  }
  return b;
}

void ExpectValues(const Buffer& b, DType dtype, const Shape& shape,
                  const std::vector<double>& values) {
  EXPECT_EQ(b.dtype(), dtype) << DTypeName(b.dtype());
  EXPECT_EQ(b.shape(), shape);
  ASSERT_EQ(b.num_elements(), static_cast<int64_t>(values.size()));
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(b.GetAsDouble(i), values[i]) << "element " << i;
  }
}

TEST(NpyTest, RoundTripsEveryDTypeAndShapeKind) {
  ScratchDir dir;
  const std::vector<Shape> shapes = {Shape{},     Shape{0},    Shape{5},
                                     Shape{2, 3}, Shape{0, 3}, Shape{2, 1, 3}};
  for (DType dtype : kAllDTypes) {
    for (const Shape& shape : shapes) {
      SCOPED_TRACE(absl::StrCat(DTypeName(dtype), shape.ToString()));
      Buffer b = Sample(dtype, shape);
      const std::string path = dir.File("a.npy");
      ASSERT_TRUE(WriteNpy(path, b).ok());
      auto back = ReadNpy(path);
      ASSERT_TRUE(back.ok()) << back.status();
      EXPECT_TRUE(back->BitwiseEquals(b)) << back->ToString();
    }
  }
  EXPECT_EQ(dir.Files(), std::vector<std::string>{"a.npy"});  // no temp files
}

TEST(NpyTest, WritesNumpysHeaderLayout) {
  struct Case {
    Buffer b;
    std::string dict;
  };
  Case cases[] = {
      {Sample(DType::kF32, Shape{2, 3}),
       "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"},
      {Sample(DType::kI32, Shape{5}),
       "{'descr': '<i4', 'fortran_order': False, 'shape': (5,), }"},
      {Sample(DType::kI64, Shape{}),
       "{'descr': '<i8', 'fortran_order': False, 'shape': (), }"},
      {Sample(DType::kBool, Shape{0, 4}),
       "{'descr': '|b1', 'fortran_order': False, 'shape': (0, 4), }"},
  };
  for (const Case& c : cases) {
    auto bytes = SerializeNpy(c.b);
    ASSERT_TRUE(bytes.ok());
    ASSERT_EQ(bytes->substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
    const size_t header_len = static_cast<uint8_t>((*bytes)[8]) |
                              static_cast<uint8_t>((*bytes)[9]) << 8;
    EXPECT_EQ((10 + header_len) % 64, 0u);
    const std::string header = bytes->substr(10, header_len);
    EXPECT_THAT(header, StartsWith(c.dict + " "));
    EXPECT_EQ(header.back(), '\n');
    EXPECT_EQ(header.find_first_not_of(' ', c.dict.size()), header_len - 1);
    EXPECT_EQ(bytes->size(), 10 + header_len + c.b.size_bytes());
  }
}

TEST(NpyTest, ReadsNumpyFixtures) {
  auto read = [](const std::string& name) {
    auto b = ReadNpy(Fixture(name));
    KILN_CHECK_OK(b.status());
    return std::move(b).value();
  };
  ExpectValues(read("f32.npy"), DType::kF32, Shape{2, 3},
               {-1, -0.5, 0, 0.5, 1, 1.5});
  ExpectValues(read("i32.npy"), DType::kI32, Shape{3, 2},
               {1, -2, 3, 2147483647, -2147483648.0, 0});
  ExpectValues(read("i64.npy"), DType::kI64, Shape{3},
               {1099511627776.0, -5, 7});
  ExpectValues(read("bool.npy"), DType::kBool, Shape{2, 3}, {1, 0, 1, 0, 0, 1});
  ExpectValues(read("scalar_f32.npy"), DType::kF32, Shape{}, {3.5});
  ExpectValues(read("scalar_i64.npy"), DType::kI64, Shape{}, {-7});
  ExpectValues(read("empty_f32.npy"), DType::kF32, Shape{0, 3}, {});
  ExpectValues(read("empty_i32.npy"), DType::kI32, Shape{0}, {});
  // float64 rounds to f32; beyond f32's range it becomes inf.
  ExpectValues(read("f64.npy"), DType::kF32, Shape{2, 2},
               {static_cast<double>(0.1f), -2.5, INFINITY, 0});
  ExpectValues(read("u1.npy"), DType::kI32, Shape{3}, {0, 255, 7});
  ExpectValues(read("i1.npy"), DType::kI32, Shape{2}, {-128, 127});
  ExpectValues(read("i2.npy"), DType::kI32, Shape{2}, {-32768, 32767});
  ExpectValues(read("u2.npy"), DType::kI32, Shape{2}, {65535, 1});
  ExpectValues(read("u4.npy"), DType::kI64, Shape{2}, {4294967295.0, 3});
  ExpectValues(read("v2.npy"), DType::kF32, Shape{3}, {1.5, -2, 4.25});
  ExpectValues(read("v3.npy"), DType::kI64, Shape{1, 2}, {9, 8});
  // What numpy wrote, kiln writes byte for byte (after the header).
  Buffer f32 = read("f32.npy");
  EXPECT_EQ(SerializeNpy(f32)->substr(128),
            ReadOrDie(Fixture("f32.npy")).substr(128));
}

TEST(NpyTest, RejectsUnsupportedNumpyFiles) {
  const std::pair<std::string, std::string> cases[] = {
      {"big_endian.npy", "big-endian dtype '>f4'"},
      {"fortran.npy", "Fortran-order"},
      {"object.npy", "object arrays"},
      {"u8.npy", "unsupported dtype '<u8'"},
      {"f16.npy", "unsupported dtype '<f2'"},
      {"structured.npy", "structured"},
  };
  for (const auto& [name, message] : cases) {
    auto b = ReadNpy(Fixture(name));
    ASSERT_FALSE(b.ok()) << name;
    EXPECT_EQ(b.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(b.status().message()),
                StartsWith(Fixture(name) + ": "));
    EXPECT_THAT(std::string(b.status().message()), HasSubstr(message));
  }
}

TEST(NpyTest, EveryTruncationIsAnError) {
  const std::string bytes = ReadOrDie(Fixture("f32.npy"));
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto b = ParseNpy(absl::string_view(bytes).substr(0, n), "cut.npy");
    ASSERT_FALSE(b.ok()) << n;
    EXPECT_THAT(std::string(b.status().message()), StartsWith("cut.npy: "));
    if (n >= 6) {
      EXPECT_THAT(std::string(b.status().message()), HasSubstr("truncated"))
          << n;
    }
  }
  auto longer = ParseNpy(bytes + "x", "long.npy");
  EXPECT_THAT(std::string(longer.status().message()),
              HasSubstr("size mismatch"));
}

// The header of f32.npy is "{'descr': '<f4', 'fortran_order': False,
// 'shape': (2, 3), }" at offset 10.
TEST(NpyTest, MalformedHeadersTable) {
  const std::string good = ReadOrDie(Fixture("f32.npy"));
  auto patch = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    size_t pos = s.find(from);
    KILN_CHECK(pos != std::string::npos);
    return s.replace(pos, from.size(), to);
  };
  auto set_byte = [&](size_t pos, char c) {
    std::string s = good;
    s[pos] = c;
    return s;
  };
  const std::pair<std::string, std::string> cases[] = {
      {set_byte(0, 'x'), "bad magic"},
      {set_byte(3, 'n'), "bad magic"},
      {set_byte(6, 4), "unsupported .npy format version 4.0"},
      {set_byte(7, 1), "format version 1.1"},
      {set_byte(9, 1), "truncated header"},
      {set_byte(8, 100), "size mismatch"},
      {set_byte(8, 10), "malformed header"},
      {patch("{", "["), "expected '{'"},
      {patch("'descr'", "'dtype'"), "unexpected key 'dtype'"},
      {patch("'fortran_order': False, ", "                        "),
       "needs the keys"},
      {patch("False", "Fals "), "expected True or False"},
      {patch("(2, 3)", "(2, 4)"), "truncated data"},
      {patch("(2, 3)", "(2, 1)"), "size mismatch"},
      {patch("(2, 3)", "(2;,3)"), "expected ',' or ')'"},
      {patch("(2, 3)", "(-2, 3)"), "negative dimension"},
      {patch("(2, 3)", "[2, 3]"), "expected '('"},
      {patch("'<f4'", "'<c8'"), "unsupported dtype '<c8'"},
      {patch("'<f4'", "'\\f4'"), "escapes"},
      {patch("'<f4'", "'<f4 "), "expected ',' or '}'"},
      {patch(": '<f4'", "  '<f4'"), "expected ':'"},
      {patch("}", "x"), "expected a quoted string"},
      {patch(", }", "}x "), "unexpected text after '}'"},
      {patch("(2, 3)", "(99999999999999999999, 3)"), "dimension too large"},
      {patch("(2, 3)", "(0, 3)"), "size mismatch"},
  };
  int i = 0;
  for (const auto& [bytes, message] : cases) {
    auto b = ParseNpy(bytes, "bad.npy");
    ASSERT_FALSE(b.ok()) << "case " << i;
    EXPECT_THAT(std::string(b.status().message()), StartsWith("bad.npy: "))
        << "case " << i;
    EXPECT_THAT(std::string(b.status().message()), HasSubstr(message))
        << "case " << i;
    ++i;
  }
  // Any single corrupted header byte gives an error or a sane array.
  for (size_t pos = 0; pos < 128; ++pos) {
    for (int x : {0x01, 0x20, 0x80, 0xFF}) {
      auto b = ParseNpy(set_byte(pos, good[pos] ^ x), "flip.npy");
      if (b.ok()) {
        EXPECT_EQ(b->size_bytes(), 24u);
      }
    }
  }
}

TEST(NpyTest, WriteRefusesBuffersWithoutDataOrTooManyDims) {
  EXPECT_FALSE(SerializeNpy(Buffer()).ok());
  std::vector<int64_t> dims(65, 1);
  auto s = SerializeNpy(Buffer(DType::kF32, Shape(dims)));
  EXPECT_THAT(std::string(s.status().message()),
              HasSubstr("at most 64 dimensions"));
}

TEST(NpyTest, ReadErrorsNameTheFile) {
  ScratchDir dir;
  auto missing = ReadNpy(dir.File("missing.npy"));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()),
              HasSubstr(dir.File("missing.npy")));
  auto directory = ReadNpy(dir.path());
  EXPECT_THAT(std::string(directory.status().message()),
              HasSubstr("is a directory"));
}

TEST(AtomicWriteTest, FailedWritesKeepTheExistingFile) {
  ScratchDir dir;
  const std::string path = dir.File("keep.npy");
  Buffer original = Sample(DType::kF32, Shape{4});
  ASSERT_TRUE(WriteNpy(path, original).ok());
  const std::string before = ReadOrDie(path);

  // Serialization fails before anything touches the disk.
  absl::Status s = WriteNpy(path, Buffer());
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr(path));
  EXPECT_EQ(ReadOrDie(path), before);

  // The rename fails: the target is a directory.
  ASSERT_EQ(::mkdir(dir.File("sub").c_str(), 0755), 0);
  s = WriteNpy(dir.File("sub"), original);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr(dir.File("sub")));
  ::rmdir(dir.File("sub").c_str());

  // The directory does not exist.
  s = WriteNpy(dir.File("nodir/x.npy"), original);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(s.message()), HasSubstr(dir.File("nodir/x.npy")));

  // Read-only directory (root ignores permissions, so only as a user).
  if (::geteuid() != 0) {
    ASSERT_EQ(::chmod(dir.path().c_str(), 0555), 0);
    s = WriteNpy(path, Sample(DType::kF32, Shape{9}));
    EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
    ::chmod(dir.path().c_str(), 0755);
  }
  EXPECT_EQ(ReadOrDie(path), before);
  EXPECT_EQ(dir.Files(), std::vector<std::string>{"keep.npy"});

  // A successful write replaces the file.
  Buffer replacement = Sample(DType::kI64, Shape{2, 2});
  ASSERT_TRUE(WriteNpy(path, replacement).ok());
  EXPECT_TRUE(ReadNpy(path)->BitwiseEquals(replacement));
  EXPECT_EQ(dir.Files(), std::vector<std::string>{"keep.npy"});
}

}  // namespace
}  // namespace kiln
