#include "layers/npz.h"

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "graph/file_io.h"
#include "layers/npy.h"

namespace kiln {
namespace {

// Zip record signatures and fixed sizes (PKWARE APPNOTE 6.3).
constexpr uint32_t kLocalSig = 0x04034b50, kCentralSig = 0x02014b50;
constexpr uint32_t kEndSig = 0x06054b50, kEnd64Sig = 0x06064b50;
constexpr uint32_t kLocator64Sig = 0x07064b50;
constexpr size_t kLocalSize = 30, kCentralSize = 46, kEndSize = 22;
constexpr size_t kEnd64Size = 56, kLocator64Size = 20;
constexpr uint32_t kMax32 = 0xFFFFFFFF;
constexpr uint16_t kMax16 = 0xFFFF, kZip64ExtraId = 0x0001;
constexpr size_t kZlibChunk = size_t{1} << 30;  // zlib counts in uInt

uint64_t Le(absl::string_view b, uint64_t pos, int width) {
  uint64_t v = 0;
  for (int i = width - 1; i >= 0; --i) {
    v = (v << 8) | static_cast<uint8_t>(b[pos + i]);
  }
  return v;
}

void Put(std::string& out, uint64_t v, int width) {
  for (int i = 0; i < width; ++i)
    out.push_back(static_cast<char>(v >> (8 * i)));
}

uint32_t Crc32(absl::string_view data) {
  return static_cast<uint32_t>(
      crc32_z(0, reinterpret_cast<const Bytef*>(data.data()), data.size()));
}

// One member as the central directory describes it.
struct ZipEntry {
  std::string name;
  uint16_t flags = 0, method = 0;
  uint32_t crc = 0;
  uint64_t compressed_size = 0, size = 0, local_offset = 0;
};

// Reads the archive's structure; errors are prefixed by the caller.
class ZipReader {
 public:
  explicit ZipReader(absl::string_view bytes) : b_(bytes) {}

  // On an error about one entry, `failed_member` names it.
  absl::Status ReadDirectory(std::vector<ZipEntry>& entries,
                             std::string& failed_member);
  // The member's uncompressed bytes, CRC checked. `storage` keeps them alive
  // for inflated members.
  absl::StatusOr<absl::string_view> Extract(const ZipEntry& e,
                                            std::string& storage) const;

 private:
  absl::Status ReadEndRecords(uint64_t& count, uint64_t& cd_size);
  absl::Status ApplyZip64Extra(absl::string_view extra, ZipEntry& e) const;

  absl::string_view b_;
  uint64_t cd_offset_ = 0;
  uint64_t cd_limit_ = 0;  // where the central directory must end
};

absl::Status Bad(absl::string_view what) {
  return absl::InvalidArgumentError(what);
}
absl::Status Truncated(absl::string_view what) {
  return absl::DataLossError(what);
}

absl::Status ZipReader::ReadEndRecords(uint64_t& count, uint64_t& cd_size) {
  if (b_.size() < kEndSize) {
    if (absl::StartsWith(b_, "PK")) {
      return Truncated("truncated zip archive: no end of central directory");
    }
    return Bad("not a zip archive (too short)");
  }
  // The end record sits at the end, followed only by its comment.
  uint64_t end = b_.size() - kEndSize;
  const uint64_t lowest = end > kMax16 ? end - kMax16 : 0;
  while (!(Le(b_, end, 4) == kEndSig &&
           end + kEndSize + Le(b_, end + 20, 2) == b_.size())) {
    if (end == lowest) {
      if (absl::StartsWith(b_, "\x93NUMPY")) {
        return Bad("this is a .npy file, not an .npz archive");
      }
      if (absl::StartsWith(b_, "PK\x03\x04")) {
        return Truncated(
            "truncated zip archive: no end of central directory record");
      }
      return Bad("not a zip archive (no end of central directory record)");
    }
    --end;
  }
  uint64_t disk = Le(b_, end + 4, 2), cd_disk = Le(b_, end + 6, 2);
  count = Le(b_, end + 10, 2);
  cd_size = Le(b_, end + 12, 4);
  cd_offset_ = Le(b_, end + 16, 4);
  cd_limit_ = end;
  const bool has_locator =
      end >= kLocator64Size && Le(b_, end - kLocator64Size, 4) == kLocator64Sig;
  if (has_locator) {
    const uint64_t loc = end - kLocator64Size;
    const uint64_t rec = Le(b_, loc + 8, 8);
    if (rec > loc || loc - rec < kEnd64Size || Le(b_, rec, 4) != kEnd64Sig) {
      return Bad("bad zip64 end of central directory record");
    }
    disk = Le(b_, rec + 16, 4);
    cd_disk = Le(b_, rec + 20, 4);
    count = Le(b_, rec + 32, 8);
    cd_size = Le(b_, rec + 40, 8);
    cd_offset_ = Le(b_, rec + 48, 8);
    cd_limit_ = rec;
  } else if (count == kMax16 || cd_size == kMax32 || cd_offset_ == kMax32) {
    return Bad("zip64 end of central directory locator is missing");
  }
  if (disk != 0 || cd_disk != 0) {
    return Bad("split (multi-disk) zip archives are not supported");
  }
  if (cd_offset_ > cd_limit_ || cd_size > cd_limit_ - cd_offset_) {
    return Truncated(absl::StrCat("bad zip structure: the central directory (",
                                  cd_size, " bytes at offset ", cd_offset_,
                                  ") lies outside the archive"));
  }
  if (count > cd_size / kCentralSize) {
    return Bad(absl::StrCat("bad zip structure: ", count,
                            " entries cannot fit a central directory of ",
                            cd_size, " bytes"));
  }
  return absl::OkStatus();
}

absl::Status ZipReader::ApplyZip64Extra(absl::string_view extra,
                                        ZipEntry& e) const {
  const bool need_size = e.size == kMax32;
  const bool need_csize = e.compressed_size == kMax32;
  const bool need_offset = e.local_offset == kMax32;
  size_t pos = 0;
  while (pos + 4 <= extra.size()) {
    const uint64_t id = Le(extra, pos, 2), len = Le(extra, pos + 2, 2);
    if (pos + 4 + len > extra.size()) break;
    if (id == kZip64ExtraId) {
      // The fields present are exactly those whose 32-bit value is 0xFFFFFFFF.
      const size_t want = 8 * (need_size + need_csize + need_offset);
      if (len < want) {
        return Bad("bad zip structure: zip64 extra field too short");
      }
      size_t p = pos + 4;
      if (need_size) e.size = Le(extra, p, 8), p += 8;
      if (need_csize) e.compressed_size = Le(extra, p, 8), p += 8;
      if (need_offset) e.local_offset = Le(extra, p, 8);
      return absl::OkStatus();
    }
    pos += 4 + len;
  }
  if (need_size || need_csize || need_offset) {
    return Bad("bad zip structure: sizes need a zip64 extra field, none found");
  }
  return absl::OkStatus();
}

absl::Status ZipReader::ReadDirectory(std::vector<ZipEntry>& entries,
                                      std::string& failed_member) {
  uint64_t count = 0, cd_size = 0;
  KILN_RETURN_IF_ERROR(ReadEndRecords(count, cd_size));
  const uint64_t cd_end = cd_offset_ + cd_size;
  uint64_t pos = cd_offset_;
  entries.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    if (cd_end - pos < kCentralSize || Le(b_, pos, 4) != kCentralSig) {
      return Bad(absl::StrCat("bad zip structure: central directory entry ", i,
                              " at offset ", pos, " is malformed"));
    }
    const uint64_t name_len = Le(b_, pos + 28, 2);
    const uint64_t extra_len = Le(b_, pos + 30, 2);
    const uint64_t comment_len = Le(b_, pos + 32, 2);
    const uint64_t total = kCentralSize + name_len + extra_len + comment_len;
    if (cd_end - pos < total) {
      return Bad(absl::StrCat("bad zip structure: central directory entry ", i,
                              " overruns the directory"));
    }
    ZipEntry e;
    e.flags = Le(b_, pos + 8, 2);
    e.method = Le(b_, pos + 10, 2);
    e.crc = Le(b_, pos + 16, 4);
    e.compressed_size = Le(b_, pos + 20, 4);
    e.size = Le(b_, pos + 24, 4);
    e.local_offset = Le(b_, pos + 42, 4);
    e.name = std::string(b_.substr(pos + kCentralSize, name_len));
    absl::Status s =
        ApplyZip64Extra(b_.substr(pos + kCentralSize + name_len, extra_len), e);
    if (!s.ok()) {
      failed_member = e.name;
      return s;
    }
    entries.push_back(std::move(e));
    pos += total;
  }
  return absl::OkStatus();
}

// Raw deflate (no zlib header) of exactly `expected` bytes. Output grows as
// data actually inflates, so a false size cannot force a huge allocation.
absl::Status Inflate(absl::string_view in, uint64_t expected,
                     std::string& out) {
  z_stream zs{};
  if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) {
    return absl::InternalError("zlib inflateInit2 failed");
  }
  struct Ender {
    z_stream* zs;
    ~Ender() { inflateEnd(zs); }
  } ender{&zs};
  const uint64_t cap = expected + 1;  // one spare byte detects overlong data
  out.resize(std::min<uint64_t>(cap, in.size() * uint64_t{4} + 4096));
  uint64_t in_pos = 0, out_pos = 0;
  while (true) {
    if (zs.avail_in == 0 && in_pos < in.size()) {
      const size_t n = std::min<uint64_t>(in.size() - in_pos, kZlibChunk);
      zs.next_in =
          reinterpret_cast<Bytef*>(const_cast<char*>(in.data() + in_pos));
      zs.avail_in = static_cast<uInt>(n);
      in_pos += n;
    }
    if (out_pos == out.size()) {
      if (out.size() == cap) break;
      out.resize(std::min<uint64_t>(cap, out.size() * 2));
    }
    const size_t room = std::min<uint64_t>(out.size() - out_pos, kZlibChunk);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + out_pos);
    zs.avail_out = static_cast<uInt>(room);
    const int ret = inflate(&zs, Z_NO_FLUSH);
    out_pos += room - zs.avail_out;
    if (ret == Z_STREAM_END) break;
    if (ret == Z_NEED_DICT || ret == Z_DATA_ERROR || ret == Z_MEM_ERROR) {
      return Bad(absl::StrCat("corrupt deflate data: ",
                              zs.msg != nullptr ? zs.msg : "unknown error"));
    }
    if (ret == Z_BUF_ERROR && zs.avail_in == 0 && in_pos == in.size()) {
      return Truncated("truncated deflate data: the stream ends early");
    }
  }
  if (out_pos != expected) {
    return Bad(absl::StrCat("deflate data inflates to ",
                            out_pos > expected ? "more than " : "", out_pos,
                            " bytes, the directory says ", expected));
  }
  out.resize(out_pos);
  return absl::OkStatus();
}

absl::StatusOr<absl::string_view> ZipReader::Extract(
    const ZipEntry& e, std::string& storage) const {
  if (e.flags & 1) return Bad("encrypted members are not supported");
  if (e.method != 0 && e.method != 8) {
    return Bad(absl::StrCat("unsupported compression method ", e.method,
                            " (only 0 = stored and 8 = deflate)"));
  }
  const uint64_t local = e.local_offset;
  if (local > cd_offset_ || cd_offset_ - local < kLocalSize ||
      Le(b_, local, 4) != kLocalSig) {
    return Bad(
        absl::StrCat("bad zip structure: no local header at offset ", local));
  }
  const uint64_t name_len = Le(b_, local + 26, 2);
  const uint64_t data_pos =
      local + kLocalSize + name_len + Le(b_, local + 28, 2);
  if (data_pos > cd_offset_ ||
      b_.substr(local + kLocalSize, name_len) != e.name) {
    return Bad(
        "bad zip structure: the local header does not match the "
        "central directory");
  }
  if (e.compressed_size > cd_offset_ - data_pos) {
    return Truncated(absl::StrCat("truncated member data: ", e.compressed_size,
                                  " bytes at offset ", data_pos,
                                  " run past the member area"));
  }
  absl::string_view raw = b_.substr(data_pos, e.compressed_size);
  absl::string_view data = raw;
  if (e.method == 0 && e.size != e.compressed_size) {
    return Bad("bad zip structure: a stored member's sizes differ");
  }
  if (e.method == 8) {
    KILN_RETURN_IF_ERROR(Inflate(raw, e.size, storage));
    data = storage;
  }
  const uint32_t crc = Crc32(data);
  if (crc != e.crc) {
    return absl::DataLossError(absl::StrFormat(
        "CRC-32 mismatch: the directory says %08x, the data has %08x", e.crc,
        crc));
  }
  return data;
}

std::string Deflate(absl::string_view in) {
  z_stream zs{};
  KILN_CHECK(deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -MAX_WBITS, 8,
                          Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&zs, in.size()), '\0');
  uint64_t in_pos = 0, out_pos = 0;
  int ret = Z_OK;
  while (ret != Z_STREAM_END) {
    if (zs.avail_in == 0 && in_pos < in.size()) {
      const size_t n = std::min<uint64_t>(in.size() - in_pos, kZlibChunk);
      zs.next_in =
          reinterpret_cast<Bytef*>(const_cast<char*>(in.data() + in_pos));
      zs.avail_in = static_cast<uInt>(n);
      in_pos += n;
    }
    if (out_pos == out.size()) out.resize(out.size() * 2 + 64);
    const size_t room = std::min<uint64_t>(out.size() - out_pos, kZlibChunk);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + out_pos);
    zs.avail_out = static_cast<uInt>(room);
    ret = deflate(&zs, in_pos == in.size() ? Z_FINISH : Z_NO_FLUSH);
    KILN_CHECK(ret != Z_STREAM_ERROR);
    out_pos += room - zs.avail_out;
  }
  deflateEnd(&zs);
  out.resize(out_pos);
  return out;
}

}  // namespace

absl::StatusOr<NpzEntries> ParseNpz(absl::string_view bytes,
                                    absl::string_view name_for_errors) {
  auto prefixed = [&](const absl::Status& s, absl::string_view member) {
    std::string where(name_for_errors);
    if (!member.empty()) absl::StrAppend(&where, " (member '", member, "')");
    return absl::Status(s.code(), absl::StrCat(where, ": ", s.message()));
  };
  ZipReader zip(bytes);
  std::vector<ZipEntry> dir;
  std::string failed_member;
  if (auto s = zip.ReadDirectory(dir, failed_member); !s.ok()) {
    return prefixed(s, failed_member);
  }
  NpzEntries out;
  std::set<std::string> keys;
  for (const ZipEntry& e : dir) {
    if (!absl::EndsWith(e.name, ".npy")) {
      return prefixed(Bad("not a .npy member; .npz archives hold only "
                          "<key>.npy arrays"),
                      e.name);
    }
    std::string key = e.name.substr(0, e.name.size() - 4);
    if (!keys.insert(key).second) {
      return prefixed(Bad("duplicate member"), e.name);
    }
    std::string storage;
    auto data = zip.Extract(e, storage);
    if (!data.ok()) return prefixed(data.status(), e.name);
    KILN_ASSIGN_OR_RETURN(
        Buffer array,
        ParseNpy(*data,
                 absl::StrCat(name_for_errors, " (member '", e.name, "')")));
    out.emplace_back(std::move(key), std::move(array));
  }
  return out;
}

absl::StatusOr<NpzEntries> ReadNpz(const std::string& path) {
  KILN_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path));
  return ParseNpz(bytes, path);
}

absl::StatusOr<std::string> SerializeNpz(const NpzEntries& entries,
                                         bool compressed, bool force_zip64) {
  std::set<absl::string_view> keys;
  std::vector<ZipEntry> dir;
  std::string out;
  for (const auto& [key, array] : entries) {
    if (key.empty()) return Bad("an .npz key must not be empty");
    if (!keys.insert(key).second) {
      return Bad(absl::StrCat("duplicate .npz key '", key, "'"));
    }
    if (key.size() > kMax16 - 4) {
      return Bad(absl::StrCat(".npz key too long: ", key.size(), " bytes"));
    }
    auto npy = SerializeNpy(array);
    if (!npy.ok()) {
      return Bad(absl::StrCat("key '", key, "': ", npy.status().message()));
    }
    ZipEntry e;
    e.name = absl::StrCat(key, ".npy");
    // Bit 11: the name is UTF-8 (set, as Python does, for non-ASCII names).
    const bool utf8 = std::any_of(e.name.begin(), e.name.end(),
                                  [](char c) { return c & 0x80; });
    e.flags = utf8 ? 0x800 : 0;
    e.method = compressed ? 8 : 0;
    e.crc = Crc32(*npy);
    e.size = npy->size();
    e.local_offset = out.size();
    std::string data = compressed ? Deflate(*npy) : std::move(*npy);
    e.compressed_size = data.size();
    const bool zip64 =
        force_zip64 || e.size >= kMax32 || e.compressed_size >= kMax32;
    Put(out, kLocalSig, 4);
    Put(out, zip64 ? 45 : 20, 2);  // version needed to extract
    Put(out, e.flags, 2), Put(out, e.method, 2);
    Put(out, 0, 2), Put(out, 0x21, 2);  // 1980-01-01 00:00:00
    Put(out, e.crc, 4);
    Put(out, zip64 ? kMax32 : e.compressed_size, 4);
    Put(out, zip64 ? kMax32 : e.size, 4);
    Put(out, e.name.size(), 2), Put(out, zip64 ? 20 : 0, 2);
    out += e.name;
    if (zip64) {
      Put(out, kZip64ExtraId, 2), Put(out, 16, 2);
      Put(out, e.size, 8), Put(out, e.compressed_size, 8);
    }
    out += data;
    dir.push_back(std::move(e));
  }
  const uint64_t cd_offset = out.size();
  for (const ZipEntry& e : dir) {
    std::string extra;
    auto field = [&](uint64_t v) -> uint64_t {
      if (!force_zip64 && v < kMax32) return v;
      Put(extra, v, 8);
      return kMax32;
    };
    const uint64_t size = field(e.size);
    const uint64_t csize = field(e.compressed_size);
    const uint64_t offset = field(e.local_offset);
    if (!extra.empty()) {
      std::string header;
      Put(header, kZip64ExtraId, 2), Put(header, extra.size(), 2);
      extra = header + extra;
    }
    const int version = extra.empty() ? 20 : 45;
    Put(out, kCentralSig, 4);
    Put(out, 0x0300 | version, 2);  // made by: Unix
    Put(out, version, 2);
    Put(out, e.flags, 2), Put(out, e.method, 2);
    Put(out, 0, 2), Put(out, 0x21, 2);
    Put(out, e.crc, 4);
    Put(out, csize, 4), Put(out, size, 4);
    Put(out, e.name.size(), 2), Put(out, extra.size(), 2), Put(out, 0, 2);
    Put(out, 0, 2), Put(out, 0, 2);        // disk, internal attributes
    Put(out, uint32_t{0100644} << 16, 4);  // a regular rw-r--r-- file
    Put(out, offset, 4);
    out += e.name;
    out += extra;
  }
  const uint64_t cd_size = out.size() - cd_offset;
  const bool zip64_end = force_zip64 || dir.size() >= kMax16 ||
                         cd_offset >= kMax32 || cd_size >= kMax32;
  if (zip64_end) {
    const uint64_t rec = out.size();
    Put(out, kEnd64Sig, 4);
    Put(out, kEnd64Size - 12, 8);
    Put(out, 0x032D, 2), Put(out, 45, 2);
    Put(out, 0, 4), Put(out, 0, 4);
    Put(out, dir.size(), 8), Put(out, dir.size(), 8);
    Put(out, cd_size, 8), Put(out, cd_offset, 8);
    Put(out, kLocator64Sig, 4);
    Put(out, 0, 4), Put(out, rec, 8), Put(out, 1, 4);
  }
  const uint64_t count16 = zip64_end ? kMax16 : dir.size();
  Put(out, kEndSig, 4);
  Put(out, 0, 2), Put(out, 0, 2);
  Put(out, count16, 2), Put(out, count16, 2);
  Put(out, zip64_end ? kMax32 : cd_size, 4);
  Put(out, zip64_end ? kMax32 : cd_offset, 4);
  Put(out, 0, 2);
  return out;
}

absl::Status WriteNpz(const std::string& path, const NpzEntries& entries,
                      bool compressed) {
  auto bytes = SerializeNpz(entries, compressed);
  if (!bytes.ok()) {
    return absl::Status(
        bytes.status().code(),
        absl::StrCat("cannot write '", path, "': ", bytes.status().message()));
  }
  return WriteFileAtomically(path, *bytes);
}

const Buffer* FindNpzEntry(const NpzEntries& entries, absl::string_view key) {
  for (const auto& [k, b] : entries) {
    if (k == key) return &b;
  }
  return nullptr;
}

}  // namespace kiln
