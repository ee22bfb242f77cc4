// torch zip checkpoints: a zip archive (stored, uncompressed entries) holding
// `<prefix>/data.pkl` (the pickled object tree) and `<prefix>/data/<key>` (raw
// storages). We parse the zip central directory ourselves and run a small
// pickle machine that understands the subset torch.save writes; nothing is
// ever executed: GLOBALs become inert names, and only the handful of torch
// rebuild functions are interpreted. Byte layouts: docs/checkpoint_formats.md.
#include <cstring>
#include <limits>
#include <new>
#include <unordered_map>

#include "model/checkpoint.h"

namespace sa {
namespace {

uint16_t rd16(const uint8_t* p) { return uint16_t(p[0] | (p[1] << 8)); }
uint32_t rd32(const uint8_t* p) {
  return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
}
uint64_t rd64(const uint8_t* p) { return uint64_t(rd32(p)) | (uint64_t(rd32(p + 4)) << 32); }

std::string hex(uint64_t v) {
  static const char* kDigits = "0123456789abcdef";
  std::string s;
  do {
    s.insert(s.begin(), kDigits[v & 15]);
    v >>= 4;
  } while (v);
  if (s.size() % 2) s.insert(s.begin(), '0');
  return "0x" + s;
}

// ---------------------------------------------------------------- zip ----

constexpr uint32_t kSigLocal = 0x04034b50;
constexpr uint32_t kSigCentral = 0x02014b50;
constexpr uint32_t kSigEocd = 0x06054b50;
constexpr uint32_t kSigEocd64 = 0x06064b50;
constexpr uint32_t kSigEocd64Locator = 0x07064b50;

struct ZipEntry {
  uint64_t data_offset = 0;  // absolute offset of the first data byte
  uint64_t size = 0;         // stored size
  uint16_t method = 0;       // 0 = stored
  uint16_t flags = 0;
};

using ZipDirectory = std::unordered_map<std::string, ZipEntry>;

Result<ZipDirectory> read_zip_directory(const uint8_t* d, uint64_t n, const std::string& path) {
  auto bad = [&](const std::string& what) { return Status::Corruption(path + ": zip: " + what); };
  if (n < 22) return bad("file too short for an end-of-central-directory record");
  // The EOCD record is the last 22 bytes plus a comment of up to 65535 bytes.
  uint64_t eocd = std::numeric_limits<uint64_t>::max();
  const uint64_t lowest = n >= 22 + 65535 ? n - 22 - 65535 : 0;
  for (uint64_t p = n - 22 + 1; p-- > lowest;) {
    if (rd32(d + p) == kSigEocd && p + 22 + rd16(d + p + 20) <= n) {
      eocd = p;
      break;
    }
  }
  if (eocd == std::numeric_limits<uint64_t>::max()) {
    return bad("no end-of-central-directory record (truncated or not a zip file)");
  }
  uint64_t n_entries = rd16(d + eocd + 10);
  uint64_t cd_size = rd32(d + eocd + 12);
  uint64_t cd_offset = rd32(d + eocd + 16);
  // zip64: a locator right before the EOCD points at the 64-bit record.
  if (eocd >= 20 && rd32(d + eocd - 20) == kSigEocd64Locator) {
    const uint64_t z64 = rd64(d + eocd - 20 + 8);
    if (z64 > n || n - z64 < 56 || rd32(d + z64) != kSigEocd64) {
      return bad("zip64 end-of-central-directory record at offset " + std::to_string(z64) +
                 " is missing or truncated");
    }
    n_entries = rd64(d + z64 + 32);
    cd_size = rd64(d + z64 + 40);
    cd_offset = rd64(d + z64 + 48);
  }
  if (cd_offset > n || cd_size > n - cd_offset) {
    return bad("central directory (offset " + std::to_string(cd_offset) + ", " +
               std::to_string(cd_size) + " bytes) lies past the end of the file (" +
               std::to_string(n) + " bytes)");
  }
  if (n_entries > cd_size / 46) return bad("entry count " + std::to_string(n_entries) + " too large");

  ZipDirectory dir;
  uint64_t p = cd_offset;
  const uint64_t cd_end = cd_offset + cd_size;
  for (uint64_t i = 0; i < n_entries; ++i) {
    if (cd_end - p < 46 || rd32(d + p) != kSigCentral) {
      return bad("central directory entry " + std::to_string(i) + " at offset " +
                 std::to_string(p) + " is malformed");
    }
    ZipEntry e;
    e.flags = rd16(d + p + 8);
    e.method = rd16(d + p + 10);
    uint64_t csize = rd32(d + p + 20);
    uint64_t usize = rd32(d + p + 24);
    const uint16_t name_len = rd16(d + p + 28);
    const uint16_t extra_len = rd16(d + p + 30);
    const uint16_t comment_len = rd16(d + p + 32);
    uint64_t local = rd32(d + p + 42);
    if (cd_end - p - 46 < uint64_t(name_len) + extra_len + comment_len) {
      return bad("central directory entry " + std::to_string(i) + " overruns the directory");
    }
    std::string name(reinterpret_cast<const char*>(d + p + 46), name_len);
    // zip64 extended information: the fields saturated at 0xffffffff follow, in order.
    const uint8_t* x = d + p + 46 + name_len;
    const uint8_t* x_end = x + extra_len;
    while (x_end - x >= 4) {
      const uint16_t id = rd16(x), len = rd16(x + 2);
      if (x_end - x - 4 < len) break;
      if (id == 0x0001) {
        const uint8_t* f = x + 4;
        const uint8_t* f_end = f + len;
        auto take = [&](uint64_t* v) {
          if (*v == 0xffffffffu && f_end - f >= 8) {
            *v = rd64(f);
            f += 8;
          }
        };
        take(&usize);
        take(&csize);
        take(&local);
      }
      x += 4 + len;
    }
    if (local > n || n - local < 30 || rd32(d + local) != kSigLocal) {
      return bad("local header of '" + name + "' at offset " + std::to_string(local) +
                 " is missing or truncated");
    }
    const uint64_t data = local + 30 + rd16(d + local + 26) + rd16(d + local + 28);
    if (data > n || csize > n - data) {
      return bad("entry '" + name + "' (" + std::to_string(csize) + " bytes at offset " +
                 std::to_string(data) + ") extends past the end of the file (" +
                 std::to_string(n) + " bytes)");
    }
    if (e.method == 0 && csize != usize) {
      return bad("stored entry '" + name + "' has different compressed and uncompressed sizes");
    }
    e.data_offset = data;
    e.size = csize;
    dir[name] = e;
    p += 46 + uint64_t(name_len) + extra_len + comment_len;
  }
  return dir;
}

// -------------------------------------------------------------- pickle ----

struct PyObj {
  enum class Kind : uint8_t {
    kNone, kBool, kInt, kFloat, kStr, kBytes, kTuple, kList, kDict, kSet,
    kGlobal, kStorage, kTensor, kObject,
  };
  Kind kind = Kind::kNone;
  int64_t i = 0;
  double f = 0;
  std::string s;               // str / bytes / global module / storage key
  std::string s2;              // global name
  std::vector<PyObj*> items;   // tuple, list, set; dict as key,value,key,value...
  DType dtype = DType::kU8;    // storage
  const uint8_t* data = nullptr;  // storage bytes
  int64_t numel = 0;              // storage elements
  TensorInfo tensor;
};
using K = PyObj::Kind;

}  // namespace

// Builds the tensor table of a Checkpoint from its zip directory and pickle.
class TorchZipParser {
 public:
  TorchZipParser(Checkpoint* ck, const ZipDirectory* dir, std::string prefix)
      : ck_(ck), dir_(dir), prefix_(std::move(prefix)) {}

  Status run(const uint8_t* pkl, uint64_t n);

 private:
  Status fail(const std::string& what) const {
    return Status::Corruption(ck_->path() + ": pickle: " + what + " at offset " +
                              std::to_string(op_pos_) + " (opcode " + hex(op_) + ")");
  }
  PyObj* make(K k) {
    arena_.push_back(std::make_unique<PyObj>());
    arena_.back()->kind = k;
    return arena_.back().get();
  }
  Result<PyObj*> pop() {
    if (stack_.size() <= (marks_.empty() ? 0 : marks_.back())) return fail("stack underflow");
    PyObj* o = stack_.back();
    stack_.pop_back();
    return o;
  }
  Result<std::vector<PyObj*>> pop_mark() {
    if (marks_.empty()) return fail("no MARK on the stack");
    const size_t m = marks_.back();
    marks_.pop_back();
    std::vector<PyObj*> out(stack_.begin() + m, stack_.end());
    stack_.resize(m);
    return out;
  }
  Result<PyObj*> top() {
    if (stack_.size() <= (marks_.empty() ? 0 : marks_.back())) return fail("stack underflow");
    return stack_.back();
  }
  Status add_to_dict(PyObj* dict, const std::vector<PyObj*>& kv);
  Result<PyObj*> persistent_load(PyObj* pid);
  Result<PyObj*> reduce(PyObj* callable, PyObj* args, int depth = 0);
  Result<PyObj*> rebuild_tensor(PyObj* args);
  Status collect(PyObj* root);

  Checkpoint* ck_;
  const ZipDirectory* dir_;
  std::string prefix_;
  std::vector<std::unique_ptr<PyObj>> arena_;
  std::vector<PyObj*> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, PyObj*> memo_;
  uint64_t op_pos_ = 0;
  uint8_t op_ = 0;
};

namespace {

bool storage_dtype(const std::string& name, DType* t) {
  static const std::unordered_map<std::string, DType> kTypes = {
      {"FloatStorage", DType::kF32}, {"HalfStorage", DType::kF16},
      {"BFloat16Storage", DType::kBF16}, {"DoubleStorage", DType::kF64},
      {"LongStorage", DType::kI64}, {"IntStorage", DType::kI32},
      {"ShortStorage", DType::kI16}, {"CharStorage", DType::kI8},
      {"ByteStorage", DType::kU8}, {"BoolStorage", DType::kBool},
      {"UntypedStorage", DType::kU8},
  };
  auto it = kTypes.find(name);
  if (it == kTypes.end()) return false;
  *t = it->second;
  return true;
}

bool is_global(const PyObj* o, const char* module, const char* name) {
  return o->kind == K::kGlobal && o->s == module && o->s2 == name;
}

}  // namespace

Result<PyObj*> TorchZipParser::persistent_load(PyObj* pid) {
  // ('storage', torch.<T>Storage, key, location, numel)
  if (pid->kind != K::kTuple || pid->items.size() < 5 || pid->items[0]->kind != K::kStr ||
      pid->items[0]->s != "storage") {
    return fail("persistent id is not a ('storage', type, key, location, numel) tuple");
  }
  PyObj* type = pid->items[1];
  PyObj* key = pid->items[2];
  PyObj* numel = pid->items[4];
  DType dt;
  if (type->kind != K::kGlobal || !storage_dtype(type->s2, &dt)) {
    return fail("unknown storage type '" + type->s + "." + type->s2 + "'");
  }
  if (key->kind != K::kStr || numel->kind != K::kInt || numel->i < 0) {
    return fail("malformed storage key or size");
  }
  const std::string entry_name = prefix_ + "data/" + key->s;
  auto it = dir_->find(entry_name);
  if (it == dir_->end()) {
    return Status::Corruption(ck_->path() + ": storage '" + key->s + "' (zip entry '" +
                              entry_name + "') is missing");
  }
  const ZipEntry& e = it->second;
  if (e.method != 0) {
    return Status::Unimplemented(ck_->path() + ": zip entry '" + entry_name +
                                 "' is compressed (method " + std::to_string(e.method) +
                                 "); torch checkpoints store entries uncompressed");
  }
  const uint64_t need = uint64_t(numel->i) * dtype_size(dt);
  if (uint64_t(numel->i) > (uint64_t(1) << 48) || need > e.size) {
    return Status::Corruption(ck_->path() + ": storage '" + key->s + "' claims " +
                              std::to_string(numel->i) + " " + dtype_name(dt) +
                              " elements but its zip entry holds " + std::to_string(e.size) +
                              " bytes");
  }
  PyObj* s = make(K::kStorage);
  s->dtype = dt;
  s->s = key->s;
  s->data = ck_->file_.data() + e.data_offset;
  s->numel = numel->i;
  return s;
}

Result<PyObj*> TorchZipParser::rebuild_tensor(PyObj* args) {
  // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, hooks[, metadata])
  if (args->kind != K::kTuple || args->items.size() < 4) {
    return fail("_rebuild_tensor arguments are not a tuple of at least 4");
  }
  PyObj* storage = args->items[0];
  PyObj* offset = args->items[1];
  PyObj* size = args->items[2];
  PyObj* stride = args->items[3];
  if (storage->kind != K::kStorage) return fail("_rebuild_tensor: first argument is not a storage");
  if (offset->kind != K::kInt || offset->i < 0) return fail("_rebuild_tensor: bad storage offset");
  if (size->kind != K::kTuple || stride->kind != K::kTuple ||
      size->items.size() != stride->items.size() || size->items.size() > 8) {
    return fail("_rebuild_tensor: size and stride are not tuples of equal rank");
  }
  PyObj* t = make(K::kTensor);
  TensorInfo& ti = t->tensor;
  ti.dtype = storage->dtype;
  int64_t numel = 1;
  int64_t extent = 0;  // largest element index reached, relative to the offset
  for (size_t i = 0; i < size->items.size(); ++i) {
    const PyObj* d = size->items[i];
    const PyObj* st = stride->items[i];
    if (d->kind != K::kInt || st->kind != K::kInt || d->i < 0 || st->i < 0 ||
        d->i > (int64_t(1) << 40) || st->i > (int64_t(1) << 40)) {
      return fail("_rebuild_tensor: bad dimension or stride");
    }
    if (__builtin_mul_overflow(numel, d->i, &numel) || numel > (int64_t(1) << 48)) {
      return fail("_rebuild_tensor: tensor too large");
    }
    ti.shape.push_back(d->i);
    ti.strides.push_back(st->i);
    if (d->i > 0) extent += (d->i - 1) * st->i;
  }
  if (numel > 0 && (offset->i > storage->numel || extent >= storage->numel - offset->i)) {
    return Status::Corruption(ck_->path() + ": tensor " + shape_to_string(ti.shape) +
                              " at storage offset " + std::to_string(offset->i) +
                              " reaches past the end of storage '" + storage->s + "' (" +
                              std::to_string(storage->numel) + " elements)");
  }
  ti.data = storage->data + uint64_t(offset->i) * dtype_size(ti.dtype);
  return t;
}

Result<PyObj*> TorchZipParser::reduce(PyObj* callable, PyObj* args, int depth) {
  if (args->kind != K::kTuple) return fail("REDUCE arguments are not a tuple");
  if (is_global(callable, "collections", "OrderedDict")) return make(K::kDict);
  if (is_global(callable, "torch._utils", "_rebuild_tensor_v2") ||
      is_global(callable, "torch._utils", "_rebuild_tensor")) {
    return rebuild_tensor(args);
  }
  if (is_global(callable, "torch._utils", "_rebuild_parameter") ||
      is_global(callable, "torch._utils", "_rebuild_parameter_with_state")) {
    if (args->items.empty()) return fail("_rebuild_parameter without arguments");
    return args->items[0];  // nn.Parameter(data): the data is all we need
  }
  if (is_global(callable, "torch._tensor", "_rebuild_from_type_v2") && depth < 4) {
    // (func, type, args, state): a tensor subclass; rebuild the plain tensor.
    if (args->items.size() < 3) return fail("_rebuild_from_type_v2 needs (func, type, args)");
    return reduce(args->items[0], args->items[2], depth + 1);
  }
  // Anything else (optimizer state, numpy scalars ...) becomes an inert object.
  PyObj* o = make(K::kObject);
  if (callable->kind == K::kGlobal) {
    o->s = callable->s;
    o->s2 = callable->s2;
  }
  return o;
}

Status TorchZipParser::add_to_dict(PyObj* dict, const std::vector<PyObj*>& kv) {
  if (kv.size() % 2) return fail("odd number of items for SETITEMS");
  if (dict->kind == K::kObject) return Status::OK();  // e.g. a custom mapping: ignore
  if (dict->kind != K::kDict) return fail("SETITEM(S) on a non-dict");
  dict->items.insert(dict->items.end(), kv.begin(), kv.end());
  return Status::OK();
}

Status TorchZipParser::run(const uint8_t* pkl, uint64_t n) {
  uint64_t pos = 0;
  auto need = [&](uint64_t k) { return n - pos >= k; };
  auto read_str = [&](uint64_t len, K kind) -> Result<PyObj*> {
    if (!need(len)) return fail("string of " + std::to_string(len) + " bytes runs past the end");
    PyObj* o = make(kind);
    o->s.assign(reinterpret_cast<const char*>(pkl + pos), len);
    pos += len;
    return o;
  };
  auto read_line = [&](std::string* out) -> Status {
    const void* nl = std::memchr(pkl + pos, '\n', n - pos);
    if (!nl) return fail("unterminated text argument");
    const uint64_t end = static_cast<const uint8_t*>(nl) - pkl;
    out->assign(reinterpret_cast<const char*>(pkl + pos), end - pos);
    pos = end + 1;
    return Status::OK();
  };
  auto memo_put = [&](uint64_t idx) -> Status {
    SA_ASSIGN_OR_RETURN(PyObj * o, top());
    memo_[idx] = o;
    return Status::OK();
  };
  auto memo_get = [&](uint64_t idx) -> Status {
    auto it = memo_.find(idx);
    if (it == memo_.end()) return fail("memo key " + std::to_string(idx) + " was never stored");
    stack_.push_back(it->second);
    return Status::OK();
  };
  auto push_int = [&](int64_t v) {
    PyObj* o = make(K::kInt);
    o->i = v;
    stack_.push_back(o);
  };
  auto make_tuple = [&](std::vector<PyObj*> items) {
    PyObj* t = make(K::kTuple);
    t->items = std::move(items);
    stack_.push_back(t);
  };

  while (true) {
    if (pos >= n) {
      op_pos_ = pos;
      op_ = 0;
      return fail("pickle ends without STOP");
    }
    op_pos_ = pos;
    op_ = pkl[pos++];
    switch (op_) {
      case 0x80:  // PROTO
        if (!need(1)) return fail("truncated PROTO");
        if (pkl[pos] > 5) return fail("unsupported pickle protocol " + std::to_string(pkl[pos]));
        pos += 1;
        break;
      case 0x95:  // FRAME: an 8-byte length hint; frames are read inline
        if (!need(8)) return fail("truncated FRAME");
        pos += 8;
        break;
      case '.': {  // STOP
        SA_ASSIGN_OR_RETURN(PyObj * root, pop());
        return collect(root);
      }
      case '(': marks_.push_back(stack_.size()); break;  // MARK
      case '0': { SA_ASSIGN_OR_RETURN(PyObj * unused, pop()); (void)unused; break; }  // POP
      case '1': { SA_ASSIGN_OR_RETURN(auto unused, pop_mark()); (void)unused; break; }  // POP_MARK
      case '2': { SA_ASSIGN_OR_RETURN(PyObj * o, top()); stack_.push_back(o); break; }  // DUP
      case 'N': stack_.push_back(make(K::kNone)); break;
      case 0x88:
      case 0x89: {  // NEWTRUE / NEWFALSE
        PyObj* o = make(K::kBool);
        o->i = op_ == 0x88;
        stack_.push_back(o);
        break;
      }
      case 'J':  // BININT
        if (!need(4)) return fail("truncated BININT");
        push_int(int32_t(rd32(pkl + pos)));
        pos += 4;
        break;
      case 'K':  // BININT1
        if (!need(1)) return fail("truncated BININT1");
        push_int(pkl[pos++]);
        break;
      case 'M':  // BININT2
        if (!need(2)) return fail("truncated BININT2");
        push_int(rd16(pkl + pos));
        pos += 2;
        break;
      case 0x8a:    // LONG1
      case 0x8b: {  // LONG4
        uint64_t len;
        if (op_ == 0x8a) {
          if (!need(1)) return fail("truncated LONG1");
          len = pkl[pos++];
        } else {
          if (!need(4)) return fail("truncated LONG4");
          len = rd32(pkl + pos);
          pos += 4;
        }
        if (!need(len)) return fail("truncated LONG");
        // Little-endian two's complement; anything wider than 64 bits must be
        // a pure sign extension.
        int64_t v = 0;
        const bool negative = len > 0 && (pkl[pos + len - 1] & 0x80);
        for (uint64_t b = 0; b < len; ++b) {
          if (b < 8) {
            v |= int64_t(uint64_t(pkl[pos + b]) << (8 * b));
          } else if (pkl[pos + b] != (negative ? 0xff : 0x00)) {
            return fail("integer wider than 64 bits");
          }
        }
        if (len > 0 && len < 8 && negative) v |= int64_t(~uint64_t(0) << (8 * len));
        pos += len;
        push_int(v);
        break;
      }
      case 'I': {  // INT (text): "I01\n" is True in protocol 0
        std::string line;
        SA_RETURN_IF_ERROR(read_line(&line));
        char* end = nullptr;
        const long long v = std::strtoll(line.c_str(), &end, 10);
        if (line.empty() || *end != '\0') return fail("bad INT literal");
        push_int(v);
        break;
      }
      case 'G': {  // BINFLOAT: big-endian double
        if (!need(8)) return fail("truncated BINFLOAT");
        uint64_t bits = 0;
        for (int b = 0; b < 8; ++b) bits = (bits << 8) | pkl[pos + b];
        pos += 8;
        PyObj* o = make(K::kFloat);
        std::memcpy(&o->f, &bits, 8);
        stack_.push_back(o);
        break;
      }
      case 'X':    // BINUNICODE
      case 'T':    // BINSTRING
      case 'B': {  // BINBYTES
        if (!need(4)) return fail("truncated string length");
        const uint64_t len = rd32(pkl + pos);
        pos += 4;
        SA_ASSIGN_OR_RETURN(PyObj * o, read_str(len, op_ == 'B' ? K::kBytes : K::kStr));
        stack_.push_back(o);
        break;
      }
      case 0x8c:   // SHORT_BINUNICODE
      case 'U':    // SHORT_BINSTRING
      case 'C': {  // SHORT_BINBYTES
        if (!need(1)) return fail("truncated string length");
        const uint64_t len = pkl[pos++];
        SA_ASSIGN_OR_RETURN(PyObj * o, read_str(len, op_ == 'C' ? K::kBytes : K::kStr));
        stack_.push_back(o);
        break;
      }
      case 0x8d:    // BINUNICODE8
      case 0x8e: {  // BINBYTES8
        if (!need(8)) return fail("truncated string length");
        const uint64_t len = rd64(pkl + pos);
        pos += 8;
        SA_ASSIGN_OR_RETURN(PyObj * o, read_str(len, op_ == 0x8e ? K::kBytes : K::kStr));
        stack_.push_back(o);
        break;
      }
      case '}': stack_.push_back(make(K::kDict)); break;   // EMPTY_DICT
      case ']': stack_.push_back(make(K::kList)); break;   // EMPTY_LIST
      case ')': make_tuple({}); break;                     // EMPTY_TUPLE
      case 0x8f: stack_.push_back(make(K::kSet)); break;   // EMPTY_SET
      case 't': {  // TUPLE
        SA_ASSIGN_OR_RETURN(auto items, pop_mark());
        make_tuple(std::move(items));
        break;
      }
      case 0x85:
      case 0x86:
      case 0x87: {  // TUPLE1/2/3
        const size_t k = op_ - 0x84;
        std::vector<PyObj*> items(k);
        for (size_t j = k; j-- > 0;) {
          SA_ASSIGN_OR_RETURN(items[j], pop());
        }
        make_tuple(std::move(items));
        break;
      }
      case 'l':    // LIST
      case 0x91: {  // FROZENSET
        SA_ASSIGN_OR_RETURN(auto items, pop_mark());
        PyObj* o = make(op_ == 'l' ? K::kList : K::kSet);
        o->items = std::move(items);
        stack_.push_back(o);
        break;
      }
      case 'd': {  // DICT
        SA_ASSIGN_OR_RETURN(auto items, pop_mark());
        PyObj* o = make(K::kDict);
        SA_RETURN_IF_ERROR(add_to_dict(o, items));
        stack_.push_back(o);
        break;
      }
      case 's': {  // SETITEM
        SA_ASSIGN_OR_RETURN(PyObj * v, pop());
        SA_ASSIGN_OR_RETURN(PyObj * k, pop());
        SA_ASSIGN_OR_RETURN(PyObj * dict, top());
        SA_RETURN_IF_ERROR(add_to_dict(dict, {k, v}));
        break;
      }
      case 'u': {  // SETITEMS
        SA_ASSIGN_OR_RETURN(auto kv, pop_mark());
        SA_ASSIGN_OR_RETURN(PyObj * dict, top());
        SA_RETURN_IF_ERROR(add_to_dict(dict, kv));
        break;
      }
      case 'a':    // APPEND
      case 'e':    // APPENDS
      case 0x90: {  // ADDITEMS
        std::vector<PyObj*> items;
        if (op_ == 'a') {
          SA_ASSIGN_OR_RETURN(PyObj * v, pop());
          items.push_back(v);
        } else {
          SA_ASSIGN_OR_RETURN(items, pop_mark());
        }
        SA_ASSIGN_OR_RETURN(PyObj * list, top());
        if (list->kind == K::kList || list->kind == K::kSet) {
          list->items.insert(list->items.end(), items.begin(), items.end());
        } else if (list->kind != K::kObject) {
          return fail("APPEND on a non-list");
        }
        break;
      }
      case 'q':  // BINPUT
        if (!need(1)) return fail("truncated BINPUT");
        SA_RETURN_IF_ERROR(memo_put(pkl[pos++]));
        break;
      case 'r':  // LONG_BINPUT
        if (!need(4)) return fail("truncated LONG_BINPUT");
        SA_RETURN_IF_ERROR(memo_put(rd32(pkl + pos)));
        pos += 4;
        break;
      case 0x94:  // MEMOIZE
        SA_RETURN_IF_ERROR(memo_put(memo_.size()));
        break;
      case 'p':    // PUT (text)
      case 'g': {  // GET (text)
        std::string line;
        SA_RETURN_IF_ERROR(read_line(&line));
        char* end = nullptr;
        const unsigned long long idx = std::strtoull(line.c_str(), &end, 10);
        if (line.empty() || *end != '\0') return fail("bad memo index");
        SA_RETURN_IF_ERROR(op_ == 'p' ? memo_put(idx) : memo_get(idx));
        break;
      }
      case 'h':  // BINGET
        if (!need(1)) return fail("truncated BINGET");
        SA_RETURN_IF_ERROR(memo_get(pkl[pos++]));
        break;
      case 'j':  // LONG_BINGET
        if (!need(4)) return fail("truncated LONG_BINGET");
        SA_RETURN_IF_ERROR(memo_get(rd32(pkl + pos)));
        pos += 4;
        break;
      case 'c': {  // GLOBAL "module\nname\n"
        PyObj* g = make(K::kGlobal);
        SA_RETURN_IF_ERROR(read_line(&g->s));
        SA_RETURN_IF_ERROR(read_line(&g->s2));
        stack_.push_back(g);
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        SA_ASSIGN_OR_RETURN(PyObj * name, pop());
        SA_ASSIGN_OR_RETURN(PyObj * module, pop());
        if (name->kind != K::kStr || module->kind != K::kStr) {
          return fail("STACK_GLOBAL needs two strings");
        }
        PyObj* g = make(K::kGlobal);
        g->s = module->s;
        g->s2 = name->s;
        stack_.push_back(g);
        break;
      }
      case 'R': {  // REDUCE
        SA_ASSIGN_OR_RETURN(PyObj * args, pop());
        SA_ASSIGN_OR_RETURN(PyObj * callable, pop());
        SA_ASSIGN_OR_RETURN(PyObj * o, reduce(callable, args));
        stack_.push_back(o);
        break;
      }
      case 0x81:    // NEWOBJ: cls, args
      case 0x92: {  // NEWOBJ_EX: cls, args, kwargs
        if (op_ == 0x92) {
          SA_ASSIGN_OR_RETURN(PyObj * kwargs, pop());
          (void)kwargs;
        }
        SA_ASSIGN_OR_RETURN(PyObj * args, pop());
        SA_ASSIGN_OR_RETURN(PyObj * cls, pop());
        (void)args;
        PyObj* o = make(K::kObject);
        if (cls->kind == K::kGlobal) {
          o->s = cls->s;
          o->s2 = cls->s2;
        }
        stack_.push_back(o);
        break;
      }
      case 'b': {  // BUILD: object state (e.g. a state_dict's _metadata) is not needed
        SA_ASSIGN_OR_RETURN(PyObj * state, pop());
        (void)state;
        SA_ASSIGN_OR_RETURN(PyObj * obj, top());
        (void)obj;
        break;
      }
      case 'Q': {  // BINPERSID
        SA_ASSIGN_OR_RETURN(PyObj * pid, pop());
        SA_ASSIGN_OR_RETURN(PyObj * s, persistent_load(pid));
        stack_.push_back(s);
        break;
      }
      default:
        return fail("unknown or unsupported pickle opcode");
    }
  }
}

Status TorchZipParser::collect(PyObj* root) {
  auto lookup = [](const PyObj* dict, const char* key) -> PyObj* {
    for (size_t i = 0; i + 1 < dict->items.size(); i += 2) {
      if (dict->items[i]->kind == K::kStr && dict->items[i]->s == key) return dict->items[i + 1];
    }
    return nullptr;
  };
  if (root->kind != K::kDict) {
    return Status::Corruption(ck_->path() + ": the pickled object is not a dict of tensors");
  }
  // {"state_dict": {...}} (cn_clip, many trainers) or {"model": {...}}.
  for (const char* wrapper : {"state_dict", "model"}) {
    PyObj* inner = lookup(root, wrapper);
    if (inner && inner->kind == K::kDict) {
      root = inner;
      break;
    }
  }
  for (size_t i = 0; i + 1 < root->items.size(); i += 2) {
    const PyObj* k = root->items[i];
    const PyObj* v = root->items[i + 1];
    if (k->kind == K::kStr && v->kind == K::kTensor) ck_->tensors_[k->s] = v->tensor;
  }
  if (ck_->tensors_.empty()) {
    return Status::Corruption(ck_->path() + ": the checkpoint contains no tensors");
  }
  return Status::OK();
}

Result<std::unique_ptr<Checkpoint>> Checkpoint::open_torch_zip(const std::string& path) try {
  std::unique_ptr<Checkpoint> ck(new Checkpoint());
  ck->format_ = Format::kTorchZip;
  SA_ASSIGN_OR_RETURN(ck->file_, MappedFile::open(path));
  const uint8_t* d = ck->file_.data();
  const uint64_t n = ck->file_.size();
  if (n == 0) return Status::Corruption(path + " is empty (0 bytes)");
  SA_ASSIGN_OR_RETURN(ZipDirectory dir, read_zip_directory(d, n, path));

  // The archive's top folder is named after the file torch.save wrote
  // ("archive/", "pytorch_model/", ...): find the one data.pkl.
  std::string prefix;
  const ZipEntry* pkl = nullptr;
  for (const auto& kv : dir) {
    const std::string& name = kv.first;
    const size_t slash = name.find('/');
    if (name.size() >= 8 && name.compare(name.size() - 8, 8, "data.pkl") == 0 &&
        (name.size() == 8 || (slash == name.size() - 9))) {
      if (pkl) return Status::Corruption(path + ": zip: more than one data.pkl");
      pkl = &kv.second;
      prefix = name.substr(0, name.size() - 8);
    }
  }
  if (!pkl) return Status::Corruption(path + ": zip archive has no data.pkl (not a torch checkpoint)");
  if (pkl->method != 0 || (pkl->flags & 1)) {
    return Status::Unimplemented(path + ": zip entry '" + prefix + "data.pkl' is compressed or " +
                                 "encrypted (method " + std::to_string(pkl->method) +
                                 "); torch checkpoints store entries uncompressed");
  }
  auto bo = dir.find(prefix + "byteorder");
  if (bo != dir.end() && bo->second.method == 0) {
    const std::string order(reinterpret_cast<const char*>(d + bo->second.data_offset),
                            bo->second.size);
    if (order.rfind("big", 0) == 0) {
      return Status::Unimplemented(path + ": big-endian torch checkpoints are not supported");
    }
  }
  TorchZipParser parser(ck.get(), &dir, prefix);
  SA_RETURN_IF_ERROR(parser.run(d + pkl->data_offset, pkl->size));
  return ck;
} catch (const std::bad_alloc&) {
  return Status::ResourceExhausted(path + ": out of memory while reading the checkpoint index");
}

}  // namespace sa
