// Checkpoint readers: the real tiny checkpoints in tests/data, synthetic torch
// archives built here (strides, offsets, BF16, zip64, pickle protocol 4), and
// corrupt copies of both generated at run time.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "model/checkpoint.h"
#include "model_test_util.h"

namespace sa {
namespace {

namespace fs = std::filesystem;

const std::string kData = SA_TEST_DATA;
const std::string kOfficial = kData + "/clip/tiny-b16/clip_cn_tiny-b16.pt";
const std::string kHfBin = kData + "/clip/tiny-b16/hf-bin/pytorch_model.bin";
const std::string kHfSt = kData + "/clip/tiny-b16/hf-safetensors/model.safetensors";

using testutil::slurp;
using testutil::TempDir;

void put16(std::string& s, size_t at, uint16_t v) {
  s[at] = char(v & 0xff);
  s[at + 1] = char(v >> 8);
}
void put32(std::string& s, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) s[at + i] = char((v >> (8 * i)) & 0xff);
}
void app16(std::string& s, uint16_t v) { s.append(2, '\0'); put16(s, s.size() - 2, v); }
void app32(std::string& s, uint32_t v) { s.append(4, '\0'); put32(s, s.size() - 4, v); }
void app64(std::string& s, uint64_t v) {
  app32(s, uint32_t(v));
  app32(s, uint32_t(v >> 32));
}

// ---- a minimal torch.save look-alike: stored zip + hand-assembled pickle ----

struct FakeTensor {
  std::string name;
  std::string storage_type;  // "FloatStorage", ...
  std::string key;
  int64_t storage_numel;
  int64_t offset;
  std::vector<int64_t> shape, stride;
};

void pk_str(std::string& p, const std::string& s, int proto) {
  if (proto >= 4 && s.size() < 256) {
    p += '\x8c';
    p += char(s.size());
  } else {
    p += 'X';
    app32(p, uint32_t(s.size()));
  }
  p += s;
}
void pk_int(std::string& p, int64_t v, int proto) {
  if (v >= 0 && v < 256) {
    p += 'K';
    p += char(v);
  } else if (proto >= 4) {  // LONG1 with 8 bytes, as newer picklers do for big ints
    p += '\x8a';
    p += char(8);
    app64(p, uint64_t(v));
  } else {
    p += 'J';
    app32(p, uint32_t(v));
  }
}
void pk_global(std::string& p, const std::string& mod, const std::string& name, int proto) {
  if (proto >= 4) {
    pk_str(p, mod, proto);
    pk_str(p, name, proto);
    p += '\x93';  // STACK_GLOBAL
    p += '\x94';  // MEMOIZE
  } else {
    p += 'c' + mod + '\n' + name + '\n';
  }
}
void pk_tuple(std::string& p, const std::vector<int64_t>& v, int proto) {
  p += '(';
  for (int64_t x : v) pk_int(p, x, proto);
  p += 't';
}

std::string make_pickle(const std::vector<FakeTensor>& ts, int proto, const char* wrapper) {
  std::string p;
  p += '\x80';
  p += char(proto);
  std::string body;
  body += '}';
  if (wrapper) {
    pk_str(body, wrapper, proto);
    body += '}';
  }
  body += '(';
  for (const auto& t : ts) {
    pk_str(body, t.name, proto);
    pk_global(body, "torch._utils", "_rebuild_tensor_v2", proto);
    body += "((";
    pk_str(body, "storage", proto);
    pk_global(body, "torch", t.storage_type, proto);
    pk_str(body, t.key, proto);
    pk_str(body, "cpu", proto);
    pk_int(body, t.storage_numel, proto);
    body += "tQ";  // TUPLE, BINPERSID
    pk_int(body, t.offset, proto);
    pk_tuple(body, t.shape, proto);
    pk_tuple(body, t.stride, proto);
    body += '\x89';  // NEWFALSE
    pk_global(body, "collections", "OrderedDict", proto);
    body += ")R";  // EMPTY_TUPLE REDUCE
    body += "tR";  // TUPLE REDUCE
  }
  body += 'u';
  if (wrapper) body += 's';
  body += '.';
  if (proto >= 4) {
    p += '\x95';  // FRAME
    app64(p, body.size());
  }
  return p + body;
}

std::string make_zip(const std::vector<std::pair<std::string, std::string>>& entries, bool zip64) {
  std::string out, cd;
  for (const auto& [name, data] : entries) {
    const uint32_t local = uint32_t(out.size());
    app32(out, 0x04034b50);
    app16(out, 20); app16(out, 0); app16(out, 0);  // version, flags, method
    app16(out, 0); app16(out, 0); app32(out, 0);   // time, date, crc (not checked)
    app32(out, uint32_t(data.size())); app32(out, uint32_t(data.size()));
    app16(out, uint16_t(name.size())); app16(out, 0);
    out += name + data;
    app32(cd, 0x02014b50);
    app16(cd, 45); app16(cd, 45); app16(cd, 0); app16(cd, 0);
    app16(cd, 0); app16(cd, 0); app32(cd, 0);
    app32(cd, uint32_t(data.size())); app32(cd, uint32_t(data.size()));
    app16(cd, uint16_t(name.size()));
    app16(cd, zip64 ? 12 : 0);  // extra
    app16(cd, 0); app16(cd, 0); app16(cd, 0); app32(cd, 0);
    app32(cd, zip64 ? 0xffffffffu : local);
    cd += name;
    if (zip64) {  // zip64 extended info carrying only the local header offset
      app16(cd, 0x0001); app16(cd, 8); app64(cd, local);
    }
  }
  const uint64_t cd_offset = out.size();
  out += cd;
  if (zip64) {
    const uint64_t z64 = out.size();
    app32(out, 0x06064b50); app64(out, 44); app16(out, 45); app16(out, 45);
    app32(out, 0); app32(out, 0); app64(out, entries.size()); app64(out, entries.size());
    app64(out, cd.size()); app64(out, cd_offset);
    app32(out, 0x07064b50); app32(out, 0); app64(out, z64); app32(out, 1);
  }
  app32(out, 0x06054b50);
  app16(out, 0); app16(out, 0);
  app16(out, zip64 ? 0xffff : uint16_t(entries.size()));
  app16(out, zip64 ? 0xffff : uint16_t(entries.size()));
  app32(out, zip64 ? 0xffffffffu : uint32_t(cd.size()));
  app32(out, zip64 ? 0xffffffffu : uint32_t(cd_offset));
  app16(out, 0);
  return out;
}

std::string floats(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4);
}

// storage "0": F32 0..11; storage "1": BF16 of 1, -2, 0.5
std::string synthetic_archive(int proto, const char* wrapper, bool zip64) {
  std::vector<float> s0(12);
  for (int i = 0; i < 12; ++i) s0[i] = float(i);
  const uint16_t bf[3] = {0x3f80, 0xc000, 0x3f00};
  const std::string s1(reinterpret_cast<const char*>(bf), 6);
  std::vector<FakeTensor> ts = {
      {"plain", "FloatStorage", "0", 12, 0, {3, 4}, {4, 1}},
      {"transposed", "FloatStorage", "0", 12, 0, {4, 3}, {1, 4}},  // a .t() view
      {"row2", "FloatStorage", "0", 12, 8, {4}, {1}},              // storage offset
      {"bf16", "BFloat16Storage", "1", 3, 0, {3}, {1}},
      {"scalar", "FloatStorage", "0", 12, 5, {}, {}},
  };
  return make_zip({{"archive/data.pkl", make_pickle(ts, proto, wrapper)},
                   {"archive/data/0", floats(s0)},
                   {"archive/data/1", s1},
                   {"archive/version", "3\n"}},
                  zip64);
}

void expect_synthetic(const Checkpoint& ck) {
  ASSERT_EQ(ck.size(), 5u);
  auto plain = ck.get_tensor("plain", {3, 4});
  ASSERT_TRUE(plain.ok()) << plain.status().to_string();
  for (int i = 0; i < 12; ++i) EXPECT_EQ((*plain)[i], float(i));
  auto tr = ck.get_tensor("transposed", {4, 3});
  ASSERT_TRUE(tr.ok()) << tr.status().to_string();
  for (int r = 0; r < 4; ++r) {
    for (int c = 0; c < 3; ++c) EXPECT_EQ((*tr)[r * 3 + c], float(c * 4 + r));
  }
  auto row2 = ck.get_tensor("row2", {4});
  ASSERT_TRUE(row2.ok());
  EXPECT_EQ(*row2, (std::vector<float>{8, 9, 10, 11}));
  auto bf = ck.get_tensor("bf16", {3});
  ASSERT_TRUE(bf.ok());
  EXPECT_EQ(*bf, (std::vector<float>{1.0f, -2.0f, 0.5f}));
  auto sc = ck.get_tensor("scalar", {});
  ASSERT_TRUE(sc.ok());
  EXPECT_EQ(*sc, std::vector<float>{5.0f});
}

// ------------------------------------------------------------------ tests --

TEST(CheckpointConvert, F16AllBitPatternsMatchReference) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const int sign = (h >> 15) ? -1 : 1;
    const int exp = (h >> 10) & 31;
    const int mant = h & 1023;
    const float got = f16_to_f32(uint16_t(h));
    if (exp == 31) {
      if (mant == 0) {
        EXPECT_TRUE(std::isinf(got) && (got < 0) == (sign < 0)) << h;
      } else {
        EXPECT_TRUE(std::isnan(got)) << h;
      }
      continue;
    }
    const double ref = exp == 0 ? sign * std::ldexp(double(mant), -24)
                                : sign * std::ldexp(double(1024 + mant), exp - 25);
    ASSERT_EQ(double(got), ref) << "bits " << h;
    EXPECT_EQ(std::signbit(got), sign < 0) << h;
  }
  EXPECT_EQ(f16_to_f32(0x3c00), 1.0f);
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(f16_to_f32(0x7bff), 65504.0f);
}

TEST(CheckpointConvert, Bf16) {
  EXPECT_EQ(bf16_to_f32(0x3f80), 1.0f);
  EXPECT_EQ(bf16_to_f32(0xc040), -3.0f);
  EXPECT_TRUE(std::isinf(bf16_to_f32(0x7f80)));
  EXPECT_TRUE(std::isnan(bf16_to_f32(0x7fc0)));
  EXPECT_EQ(bf16_to_f32(0x0001), std::ldexp(1.0f, -133));  // subnormal
}

TEST(CheckpointTorch, ReadsOfficialTinyCheckpoint) {
  auto ck = Checkpoint::open(kOfficial);
  ASSERT_TRUE(ck.ok()) << ck.status().to_string();
  EXPECT_EQ((*ck)->format(), Checkpoint::Format::kTorchZip);
  EXPECT_EQ((*ck)->size(), 71u);
  const TensorInfo* conv = (*ck)->find("module.visual.conv1.weight");
  ASSERT_NE(conv, nullptr);
  EXPECT_EQ(conv->dtype, DType::kF16);
  EXPECT_EQ(conv->shape, (std::vector<int64_t>{128, 3, 16, 16}));
  EXPECT_TRUE(conv->contiguous());
  auto ls = (*ck)->shape_of("module.logit_scale");
  ASSERT_TRUE(ls.ok());
  EXPECT_TRUE(ls->empty());
  EXPECT_FALSE((*ck)->has("state_dict"));
  EXPECT_FALSE((*ck)->has("epoch"));
}

TEST(CheckpointSafetensors, MatchesHfBinExactly) {
  // hf-bin holds fp16 weights, the safetensors file fp32 copies of the same
  // fp16-rounded values: every tensor must convert to identical floats.
  auto st = Checkpoint::open(kHfSt);
  auto bin = Checkpoint::open(kHfBin);
  ASSERT_TRUE(st.ok()) << st.status().to_string();
  ASSERT_TRUE(bin.ok()) << bin.status().to_string();
  EXPECT_EQ((*st)->format(), Checkpoint::Format::kSafetensors);
  EXPECT_EQ((*st)->names(), (*bin)->names());
  for (const std::string& name : (*st)->names()) {
    const TensorInfo* a = (*st)->find(name);
    ASSERT_EQ(a->dtype, DType::kF32) << name;
    EXPECT_EQ((*bin)->find(name)->dtype, DType::kF16) << name;
    auto va = (*st)->get_tensor(name, a->shape);
    auto vb = (*bin)->get_tensor(name, a->shape);
    ASSERT_TRUE(va.ok() && vb.ok()) << name;
    if (name == "logit_scale") {
      // The one exception in the test data: the safetensors copy kept the
      // unrounded fp32 2.6592; the fp16 files (and the goldens) hold 2.66015625.
      EXPECT_EQ((*vb)[0], 2.66015625f);
      EXPECT_NEAR((*va)[0], (*vb)[0], 1e-3);
      continue;
    }
    ASSERT_EQ(*va, *vb) << name;
  }
}

TEST(CheckpointTorch, OfficialAndHfAgreeOnPatchEmbedding) {
  auto pt = Checkpoint::open(kOfficial);
  auto st = Checkpoint::open(kHfSt);
  ASSERT_TRUE(pt.ok() && st.ok());
  auto a = (*pt)->get_tensor("module.visual.conv1.weight", {128, 3, 16, 16});
  auto b = (*st)->get_tensor("vision_model.embeddings.patch_embedding.weight", {128, 3, 16, 16});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
  float max_abs = 0;
  for (float v : *a) max_abs = std::max(max_abs, std::fabs(v));
  EXPECT_GT(max_abs, 0.0f);  // real weights, not zeros
}

TEST(CheckpointTensor, ShapeAndPresenceAreChecked) {
  auto ck = Checkpoint::open(kHfSt);
  ASSERT_TRUE(ck.ok());
  auto wrong = (*ck)->get_tensor("visual_projection.weight", {128, 64});
  EXPECT_EQ(wrong.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(wrong.status().message().find("visual_projection.weight"), std::string::npos);
  EXPECT_NE(wrong.status().message().find("[64, 128]"), std::string::npos);
  auto missing = (*ck)->get_tensor("no.such.tensor", {1});
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("no.such.tensor"), std::string::npos);
  auto optional = (*ck)->get_tensor("no.such.tensor", {1}, /*required=*/false);
  ASSERT_TRUE(optional.ok());
  EXPECT_TRUE(optional->empty());
  auto scalar = (*ck)->get_tensor("logit_scale", {});
  ASSERT_TRUE(scalar.ok());
  ASSERT_EQ(scalar->size(), 1u);
}

TEST(CheckpointTorch, SyntheticStridesOffsetsBf16Protocol2) {
  TempDir tmp;
  auto ck = Checkpoint::open(tmp.write("a.pt", synthetic_archive(2, nullptr, false)));
  ASSERT_TRUE(ck.ok()) << ck.status().to_string();
  expect_synthetic(**ck);
}

TEST(CheckpointTorch, SyntheticProtocol4StateDictWrapperZip64) {
  TempDir tmp;
  auto ck = Checkpoint::open(tmp.write("b.pt", synthetic_archive(4, "state_dict", true)));
  ASSERT_TRUE(ck.ok()) << ck.status().to_string();
  expect_synthetic(**ck);
}

// ---- corrupt inputs ----

TEST(CheckpointCorrupt, EmptyMissingAndDirectory) {
  TempDir tmp;
  auto empty = Checkpoint::open(tmp.write("empty.pt", ""));
  EXPECT_EQ(empty.status().code(), StatusCode::kCorruption);
  EXPECT_NE(empty.status().message().find("0 bytes"), std::string::npos);
  EXPECT_EQ(Checkpoint::open_safetensors(tmp.write("e.safetensors", "")).status().code(),
            StatusCode::kCorruption);
  EXPECT_EQ(Checkpoint::open_torch_zip(tmp.write("e2.pt", "")).status().code(),
            StatusCode::kCorruption);
  EXPECT_EQ(Checkpoint::open(kData + "/nope.pt").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(Checkpoint::open(kData).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(Checkpoint::open(tmp.write("junk.bin", "hello world, not a model")).status().code(),
            StatusCode::kCorruption);
}

TEST(CheckpointCorrupt, TruncatedTorchZip) {
  const std::string bytes = slurp(kOfficial);
  ASSERT_GT(bytes.size(), 100000u);
  TempDir tmp;
  const size_t n = bytes.size();
  // Inside the pickle, inside tensor data, inside the central directory, inside the EOCD.
  for (size_t cut : {size_t(1), size_t(3), size_t(100), size_t(5000), size_t(20000), n / 2,
                     n - 5000, n - 200, n - 23, n - 10, n - 1}) {
    auto r = Checkpoint::open(tmp.write("t.pt", bytes.substr(0, cut)));
    EXPECT_EQ(r.status().code(), StatusCode::kCorruption) << "cut at " << cut;
  }
}

// Offsets of the pickle inside the official file (located by its PROTO 2 + EMPTY_DICT start).
size_t pickle_start(const std::string& bytes) {
  const size_t p = bytes.find(std::string("\x80\x02}", 3));
  return p;
}

TEST(CheckpointCorrupt, UnknownPickleOpcodeNamesByteAndOffset) {
  std::string bytes = slurp(kOfficial);
  const size_t pk = pickle_start(bytes);
  ASSERT_NE(pk, std::string::npos);
  ASSERT_EQ(bytes[pk + 2], '}');
  bytes[pk + 2] = char(0xff);
  TempDir tmp;
  auto r = Checkpoint::open(tmp.write("op.pt", bytes));
  ASSERT_EQ(r.status().code(), StatusCode::kCorruption);
  EXPECT_NE(r.status().message().find("0xff"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("offset 2"), std::string::npos) << r.status().message();
}

TEST(CheckpointCorrupt, BrokenZipStructures) {
  const std::string orig = slurp(kOfficial);
  TempDir tmp;
  {  // EOCD signature
    std::string b = orig;
    const size_t eocd = b.rfind(std::string("PK\x05\x06", 4));
    ASSERT_NE(eocd, std::string::npos);
    b[eocd + 3] = 'X';
    EXPECT_EQ(Checkpoint::open(tmp.write("eocd.pt", b)).status().code(), StatusCode::kCorruption);
  }
  // Central directory entry of data.pkl: the second occurrence of its name.
  const std::string pkl_name = "clip_cn_tiny-b16/data.pkl";
  const size_t cd_name = orig.find(pkl_name, orig.find(pkl_name) + 1);
  ASSERT_NE(cd_name, std::string::npos);
  const size_t cd = cd_name - 46;
  ASSERT_EQ(orig.substr(cd, 4), std::string("PK\x01\x02", 4));
  {  // compressed (deflate) entry
    std::string b = orig;
    put16(b, cd + 10, 8);
    auto r = Checkpoint::open(tmp.write("deflate.pt", b));
    EXPECT_EQ(r.status().code(), StatusCode::kUnimplemented);
    EXPECT_NE(r.status().message().find("compressed"), std::string::npos);
  }
  {  // entry size past the end of the file
    std::string b = orig;
    put32(b, cd + 20, 0x7fffffff);
    put32(b, cd + 24, 0x7fffffff);
    auto r = Checkpoint::open(tmp.write("size.pt", b));
    EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
    EXPECT_NE(r.status().message().find("past the end"), std::string::npos);
  }
  {  // local header offset pointing nowhere
    std::string b = orig;
    put32(b, cd + 42, uint32_t(orig.size() - 10));
    EXPECT_EQ(Checkpoint::open(tmp.write("local.pt", b)).status().code(), StatusCode::kCorruption);
  }
  {  // central directory offset past the end (torch writes zip64 records: patch both)
    std::string b = orig;
    const size_t eocd = b.rfind(std::string("PK\x05\x06", 4));
    put32(b, eocd + 16, uint32_t(orig.size()));
    const size_t z64 = b.rfind(std::string("PK\x06\x06", 4));
    if (z64 != std::string::npos) put32(b, z64 + 48, uint32_t(orig.size()));
    EXPECT_EQ(Checkpoint::open(tmp.write("cdoff.pt", b)).status().code(), StatusCode::kCorruption);
  }
}

TEST(CheckpointCorrupt, StorageAndTensorBoundsInPickle) {
  // The first tensor (text_projection, [64, 64] fp16) is pickled as
  // ... 'cpu' BINPUT M <numel=4096> TUPLE BINPUT BINPERSID K <offset=0> ...
  const std::string orig = slurp(kOfficial);
  const size_t pk = pickle_start(orig);
  const size_t numel_at = orig.find(std::string("cpu", 3), pk) + 5;
  ASSERT_EQ(orig[numel_at], 'M');
  ASSERT_EQ(orig.substr(numel_at + 1, 2), std::string("\x00\x10", 2));
  ASSERT_EQ(orig[numel_at + 3], 't');
  ASSERT_EQ(orig[numel_at + 6], 'Q');
  ASSERT_EQ(orig[numel_at + 7], 'K');
  TempDir tmp;
  {  // storage claims more elements than its zip entry holds
    std::string b = orig;
    b[numel_at + 2] = char(0xff);
    auto r = Checkpoint::open(tmp.write("numel.pt", b));
    EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
    EXPECT_NE(r.status().message().find("storage '0'"), std::string::npos) << r.status().message();
  }
  {  // tensor view reaching past its storage
    std::string b = orig;
    b[numel_at + 8] = char(200);
    auto r = Checkpoint::open(tmp.write("offset.pt", b));
    EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
    EXPECT_NE(r.status().message().find("past the end of storage"), std::string::npos)
        << r.status().message();
  }
}

TEST(CheckpointCorrupt, EveryPickleByteFlipIsHandled) {
  // Exhaustive single-byte damage to a small synthetic pickle: each variant
  // must either load or fail with a Status -- never crash (run under ASan too).
  const std::string good = synthetic_archive(2, "state_dict", false);
  const size_t pk = good.find(std::string("\x80\x02", 2));
  const size_t pk_len = good.find("archive/data/0") - 30 - pk;  // up to the next local header
  TempDir tmp;
  int failures = 0;
  for (size_t i = 0; i < pk_len; ++i) {
    for (int v : {0x00, 0x01, 0x7f, 0xff, int('R'), int('t'), int('Q'), int('h'), int('u'), int('q')}) {
      std::string b = good;
      if (b[pk + i] == char(v)) continue;
      b[pk + i] = char(v);
      auto r = Checkpoint::open(tmp.write("flip.pt", b));
      if (!r.ok()) {
        ++failures;
        EXPECT_NE(r.status().code(), StatusCode::kOk);
        EXPECT_FALSE(r.status().message().empty());
      }
    }
  }
  EXPECT_GT(failures, 0);
}

TEST(CheckpointCorrupt, SafetensorsHeaderDamage) {
  const std::string orig = slurp(kHfSt);
  TempDir tmp;
  {  // header length larger than the file
    std::string b = orig;
    put32(b, 0, 0x7fffffff);
    auto r = Checkpoint::open_safetensors(tmp.write("hlen.safetensors", b));
    EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
    EXPECT_NE(r.status().message().find("header length"), std::string::npos);
  }
  {  // header length cutting the JSON short
    std::string b = orig;
    put32(b, 0, 100);
    EXPECT_EQ(Checkpoint::open_safetensors(tmp.write("short.safetensors", b)).status().code(),
              StatusCode::kCorruption);
  }
  {  // not JSON
    std::string b = orig;
    b[8] = 'x';
    EXPECT_EQ(Checkpoint::open_safetensors(tmp.write("json.safetensors", b)).status().code(),
              StatusCode::kCorruption);
  }
  {  // a shape whose byte size disagrees with data_offsets
    std::string b = orig;
    const size_t at = b.find("\"shape\":[64,128]");
    ASSERT_NE(at, std::string::npos);
    b.replace(at, 16, "\"shape\":[64,129]");
    auto r = Checkpoint::open_safetensors(tmp.write("shape.safetensors", b));
    EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
    EXPECT_NE(r.status().message().find("visual_projection.weight"), std::string::npos);
  }
  {  // unsupported dtype
    std::string b = orig;
    const size_t at = b.find("\"F32\"");
    b.replace(at, 5, "\"C64\"");
    EXPECT_EQ(Checkpoint::open_safetensors(tmp.write("dtype.safetensors", b)).status().code(),
              StatusCode::kUnimplemented);
  }
  // Truncations: inside the length, the header and the data.
  for (size_t cut : {size_t(4), size_t(8), size_t(500), size_t(9000), size_t(9030), orig.size() / 2,
                     orig.size() - 1}) {
    auto r = Checkpoint::open(tmp.write("cut.safetensors", orig.substr(0, cut)));
    EXPECT_EQ(r.status().code(), StatusCode::kCorruption) << "cut at " << cut;
  }
  // A cut inside the data names the truncation (models pull relies on it).
  auto cut = Checkpoint::open(tmp.write("cut.safetensors", orig.substr(0, orig.size() - 7)));
  EXPECT_NE(cut.status().message().find("truncated"), std::string::npos) << cut.status().message();
  // Bytes after the last tensor: the tensors must cover the data exactly.
  auto padded = Checkpoint::open(tmp.write("pad.safetensors", orig + "x"));
  EXPECT_EQ(padded.status().code(), StatusCode::kCorruption);
  EXPECT_NE(padded.status().message().find("after the last tensor"), std::string::npos)
      << padded.status().message();
}

TEST(CheckpointCorrupt, IntegerTensorIsNotReadAsFloat) {
  TempDir tmp;
  std::vector<FakeTensor> ts = {{"ids", "LongStorage", "0", 2, 0, {2}, {1}}};
  const std::string data(16, '\0');
  auto ck = Checkpoint::open(tmp.write(
      "ids.pt", make_zip({{"a/data.pkl", make_pickle(ts, 2, nullptr)}, {"a/data/0", data}}, false)));
  ASSERT_TRUE(ck.ok()) << ck.status().to_string();
  EXPECT_EQ((*ck)->find("ids")->dtype, DType::kI64);
  EXPECT_EQ((*ck)->get_tensor("ids", {2}).status().code(), StatusCode::kUnimplemented);
}

}  // namespace
}  // namespace sa
