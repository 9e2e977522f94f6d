// .npz archives (layers/npz.h): archives written by numpy.savez,
// savez_compressed, a streaming zip writer and Info-ZIP with zip64 records;
// round trips (stored, deflated, forced zip64, '/' in keys, order kept); and
// a table of corrupted archives, each a clear Status naming file and member.
#include "layers/npz.h"

#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "graph/file_io.h"

namespace kiln {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::StartsWith;

std::string Fixture(const std::string& name) {
  return absl::StrCat(KILN_TEST_DATA_DIR, "/npy/", name);
}

std::string ReadOrDie(const std::string& path) {
  auto bytes = ReadFileToString(path);
  KILN_CHECK_OK(bytes.status());
  return *bytes;
}

uint64_t Le(const std::string& s, size_t pos, int width) {
  uint64_t v = 0;
  for (int i = width - 1; i >= 0; --i)
    v = v << 8 | static_cast<uint8_t>(s[pos + i]);
  return v;
}

void SetLe(std::string& s, size_t pos, uint64_t v, int width) {
  for (int i = 0; i < width; ++i) s[pos + i] = static_cast<char>(v >> (8 * i));
}

// Bitwise CRC-32 (IEEE), independent of zlib.
uint32_t Crc32(absl::string_view data) {
  uint32_t crc = 0xFFFFFFFF;
  for (char c : data) {
    crc ^= static_cast<uint8_t>(c);
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320 & -(crc & 1));
  }
  return ~crc;
}

// The archive written by make_npy_fixtures.py's weights().
void ExpectFixtureWeights(const NpzEntries& e) {
  ASSERT_EQ(e.size(), 6u);
  const std::vector<std::string> keys = {
      "dense_1/kernel", "dense_1/bias", "step", "mask", "ids", "empty"};
  for (size_t i = 0; i < keys.size(); ++i) EXPECT_EQ(e[i].first, keys[i]);
  auto expect = [](const Buffer& b, DType dtype, Shape shape,
                   std::vector<double> values) {
    EXPECT_EQ(b.dtype(), dtype);
    EXPECT_EQ(b.shape(), shape);
    ASSERT_EQ(b.num_elements(), static_cast<int64_t>(values.size()));
    for (size_t i = 0; i < values.size(); ++i)
      EXPECT_EQ(b.GetAsDouble(i), values[i]);
  };
  expect(e[0].second, DType::kF32, Shape{3, 2},
         {-0.5, -0.25, 0, 0.25, 0.5, 0.75});
  expect(e[1].second, DType::kF32, Shape{2}, {0.25, -1.5});
  expect(e[2].second, DType::kI64, Shape{}, {42});
  expect(e[3].second, DType::kBool, Shape{3}, {1, 0, 1});
  expect(e[4].second, DType::kI32, Shape{1, 2}, {7, -8});
  expect(e[5].second, DType::kF32, Shape{0, 4}, {});
}

const char* const kArchives[] = {"savez.npz", "savez_compressed.npz",
                                 "streamed.npz", "infozip_zip64.npz"};

TEST(NpzTest, ReadsArchivesFromNumpyAndOtherZipWriters) {
  for (const char* name : kArchives) {
    SCOPED_TRACE(name);
    auto e = ReadNpz(Fixture(name));
    ASSERT_TRUE(e.ok()) << e.status();
    ExpectFixtureWeights(*e);
    EXPECT_EQ(FindNpzEntry(*e, "dense_1/bias"), &(*e)[1].second);
    EXPECT_EQ(FindNpzEntry(*e, "dense_1"), nullptr);
  }
}

NpzEntries SampleEntries() {
  NpzEntries e;
  int n = 0;
  for (DType dtype : kAllDTypes) {
    for (Shape shape : {Shape{}, Shape{0}, Shape{3, 2}, Shape{2, 0, 5}}) {
      Buffer b(dtype, shape);
      for (int64_t i = 0; i < b.num_elements(); ++i)
        b.SetFromDouble(i, i % 3 - 1);
      e.emplace_back(absl::StrCat("layer_", n % 3, "/w", n), std::move(b));
      ++n;
    }
  }
  // A large, very compressible member: inflate output grows many times.
  Buffer big = Buffer::Zeros(DType::kF32, Shape{300, 1000});
  big.data<float>()[12345] = 7;
  e.emplace_back("zz/big", std::move(big));
  e.emplace_back("a", Buffer::Scalar(DType::kF32, 1.5));  // order, not sorted
  return e;
}

TEST(NpzTest, RoundTripsStoredDeflatedAndZip64) {
  const NpzEntries entries = SampleEntries();
  for (bool compressed : {false, true}) {
    for (bool zip64 : {false, true}) {
      SCOPED_TRACE(absl::StrCat("compressed=", compressed, " zip64=", zip64));
      auto bytes = SerializeNpz(entries, compressed, zip64);
      ASSERT_TRUE(bytes.ok());
      auto back = ParseNpz(*bytes, "mem.npz");
      ASSERT_TRUE(back.ok()) << back.status();
      ASSERT_EQ(back->size(), entries.size());
      for (size_t i = 0; i < entries.size(); ++i) {
        EXPECT_EQ((*back)[i].first, entries[i].first);
        EXPECT_TRUE((*back)[i].second.BitwiseEquals(entries[i].second))
            << entries[i].first;
      }
      if (compressed) {
        EXPECT_LT(bytes->size(), 1200000u / 10);
      }
    }
  }
  const std::string path = ::testing::TempDir() + "/kiln_npz_roundtrip.npz";
  ASSERT_TRUE(WriteNpz(path, entries, /*compressed=*/true).ok());
  auto back = ReadNpz(path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->size(), entries.size());
  ::unlink(path.c_str());
}

TEST(NpzTest, WriteRefusesBadEntriesAndKeepsTheOldFile) {
  const std::string path = ::testing::TempDir() + "/kiln_npz_keep.npz";
  NpzEntries good;
  good.emplace_back("w", Buffer::Scalar(DType::kI32, 3));
  ASSERT_TRUE(WriteNpz(path, good, false).ok());
  const std::string before = ReadOrDie(path);

  NpzEntries dup;
  dup.emplace_back("k", Buffer::Scalar(DType::kF32, 1));
  dup.emplace_back("k", Buffer::Scalar(DType::kF32, 2));
  NpzEntries empty_key;
  empty_key.emplace_back("", Buffer::Scalar(DType::kF32, 1));
  NpzEntries no_data;
  no_data.emplace_back("nothing", Buffer());
  const std::pair<const NpzEntries*, std::string> cases[] = {
      {&dup, "duplicate .npz key 'k'"},
      {&empty_key, "must not be empty"},
      {&no_data, "key 'nothing': cannot save a Buffer without data"},
  };
  for (const auto& [entries, message] : cases) {
    absl::Status s = WriteNpz(path, *entries, true);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(s.message()), HasSubstr(path));
    EXPECT_THAT(std::string(s.message()), HasSubstr(message));
    EXPECT_EQ(ReadOrDie(path), before);
  }
  ::unlink(path.c_str());
}

// Offsets of the first member's records in an archive without comment.
struct Layout {
  size_t end, cd, local;
  explicit Layout(const std::string& z)
      : end(z.size() - 22), cd(Le(z, end + 16, 4)), local(Le(z, cd + 42, 4)) {}
};

struct BadCase {
  std::string label, bytes, message;
};

std::vector<BadCase> CorruptedArchives() {
  const std::string stored = ReadOrDie(Fixture("savez.npz"));
  const std::string deflated = ReadOrDie(Fixture("savez_compressed.npz"));
  const Layout s(stored), d(deflated);
  std::vector<BadCase> out;
  auto add = [&](std::string label, const std::string& base, size_t pos,
                 uint64_t v, int width, std::string message) {
    std::string z = base;
    SetLe(z, pos, v, width);
    out.push_back({std::move(label), std::move(z), std::move(message)});
  };
  add("local signature", stored, s.local, 0x12345678, 4,
      "no local header at offset 0");
  add("central CRC", stored, s.cd + 16, 0xDEADBEEF, 4,
      "(member 'dense_1/kernel.npy'): CRC-32 mismatch: the directory says "
      "deadbeef");
  add("stored data", stored, s.local + 30 + 18 + 20 + 130, 0x7F, 1,
      "CRC-32 mismatch");
  add("method", stored, s.cd + 10, 12, 2, "unsupported compression method 12");
  add("encrypted", stored, s.cd + 8, 1, 2, "encrypted");
  add("central signature", stored, s.cd, 0, 4,
      "central directory entry 0 at offset");
  add("local offset", stored, s.cd + 42, 7, 4, "no local header at offset 7");
  add("central name", stored, s.cd + 46, 'D', 1, "does not match the central");
  add("stored sizes", stored, s.cd + 20, 151, 4,
      "a stored member's sizes differ");
  add("member size", stored, s.cd + 20, 0x7FFFFFFF, 4, "truncated member data");
  add("entry count", stored, s.end + 10, 7, 2, "central directory entry 6");
  add("huge entry count", stored, s.end + 10, 0xFFFE, 2,
      "cannot fit a central directory");
  add("zip64 count", stored, s.end + 10, 0xFFFF, 2,
      "zip64 end of central directory locator is missing");
  add("disk", stored, s.end + 4, 1, 2, "split (multi-disk)");
  add("cd offset", stored, s.end + 16, s.end + 1, 4,
      "lies outside the archive");
  add("cd offset-1", stored, s.end + 16, s.cd - 1, 4,
      "central directory entry 0");
  add("comment length", stored, s.end + 20, 3, 2,
      "truncated zip archive: no end of central directory");
  add("inflated size+1", deflated, d.cd + 24, 153, 4,
      "inflates to 152 bytes, the directory says 153");
  add("inflated size-1", deflated, d.cd + 24, 151, 4,
      "inflates to more than 152 bytes");
  add("deflate stream cut", deflated, d.cd + 20, 20, 4,
      "truncated deflate data");
  add("deflate block type", deflated, d.local + 30 + 18 + 20, 0x07, 1,
      "corrupt deflate data");

  const std::string zip64 = ReadOrDie(Fixture("infozip_zip64.npz"));
  const size_t locator = zip64.size() - 22 - 20;
  const size_t record = Le(zip64, locator + 8, 8);
  add("zip64 record", zip64, record, 0, 4,
      "bad zip64 end of central directory record");
  add("zip64 record offset", zip64, locator + 8, zip64.size(), 8,
      "bad zip64 end of central directory record");
  const size_t cd64 = Le(zip64, record + 48, 8);
  add("zip64 extra id", zip64, cd64 + 46 + 18, 9, 2,
      "sizes need a zip64 extra field");
  add("zip64 extra length", zip64, cd64 + 46 + 18 + 2, 0, 2,
      "zip64 extra field too short");

  // Whole-archive problems.
  out.push_back({"empty file", "", "not a zip archive (too short)"});
  out.push_back({"random bytes", std::string(100, 'x'), "not a zip archive"});
  out.push_back(
      {".npy file", ReadOrDie(Fixture("f32.npy")), "this is a .npy file"});
  out.push_back({"not npy member",
                 absl::StrReplaceAll(stored, {{"step.npy", "step.txt"}}),
                 "(member 'step.txt'): not a .npy member"});
  out.push_back({"duplicate",
                 absl::StrReplaceAll(stored, {{"step.npy", "mask.npy"}}),
                 "(member 'mask.npy'): duplicate member"});
  // A member whose .npy content is bad but whose CRC is right.
  NpzEntries one;
  one.emplace_back("a", Buffer::Scalar(DType::kF32, 1));
  std::string z = *SerializeNpz(one, false);
  z = absl::StrReplaceAll(z, {{"'<f4'", "'>f4'"}});
  const Layout l(z);
  const uint32_t crc =
      Crc32(absl::string_view(z).substr(30 + 5, Le(z, l.cd + 20, 4)));
  SetLe(z, 14, crc, 4);
  SetLe(z, l.cd + 16, crc, 4);
  out.push_back(
      {"member dtype", z, "(member 'a.npy'): big-endian dtype '>f4'"});
  return out;
}

TEST(NpzTest, CorruptedArchivesTable) {
  for (const BadCase& c : CorruptedArchives()) {
    auto e = ParseNpz(c.bytes, "bad.npz");
    ASSERT_FALSE(e.ok()) << c.label;
    EXPECT_THAT(std::string(e.status().message()), StartsWith("bad.npz"))
        << c.label;
    EXPECT_THAT(std::string(e.status().message()), HasSubstr(c.message))
        << c.label;
  }
}

TEST(NpzTest, EveryTruncationIsAnError) {
  for (const char* name : kArchives) {
    const std::string bytes = ReadOrDie(Fixture(name));
    for (size_t n = 0; n < bytes.size(); ++n) {
      auto e = ParseNpz(absl::string_view(bytes).substr(0, n), name);
      ASSERT_FALSE(e.ok()) << name << " cut at " << n;
      EXPECT_THAT(std::string(e.status().message()), StartsWith(name));
    }
  }
}

// Flipping any single byte never crashes; what still parses is a sane
// archive of six members, and flips in CRCs and data are caught.
TEST(NpzTest, EverySingleByteFlipIsSafe) {
  for (const char* name : kArchives) {
    const std::string bytes = ReadOrDie(Fixture(name));
    int errors = 0;
    for (size_t pos = 0; pos < bytes.size(); ++pos) {
      for (int x : {0x01, 0x80, 0xFF}) {
        std::string z = bytes;
        z[pos] = static_cast<char>(z[pos] ^ x);
        auto e = ParseNpz(z, name);
        if (!e.ok()) {
          ++errors;
          EXPECT_THAT(std::string(e.status().message()),
                      MatchesRegex(absl::StrCat(name, "(:| \\(member).*")));
        } else {
          EXPECT_EQ(e->size(), 6u);
        }
      }
    }
    EXPECT_GT(errors, static_cast<int>(bytes.size()));
  }
}

}  // namespace
}  // namespace kiln
