#include "io/pickle_machine.h"

#include <cstring>
#include <limits>
#include <set>
#include <unordered_map>

#include "core/error.h"

namespace sdxl::io::pickle {
namespace {

constexpr size_t kMark = std::numeric_limits<size_t>::max();

// torch's weights_only allow-list: what may be named. Only the first group may be called (REDUCE).
const std::set<std::string>& callable_globals() {
  static const std::set<std::string> names = {"collections.OrderedDict", "torch._utils._rebuild_tensor_v2",
                                              "torch._utils._rebuild_parameter", "torch.Size"};
  return names;
}
const std::set<std::string>& storage_globals() {
  static const std::set<std::string> names = {
      "torch.FloatStorage", "torch.HalfStorage", "torch.BFloat16Storage", "torch.DoubleStorage", "torch.LongStorage",
      "torch.IntStorage",   "torch.ShortStorage", "torch.CharStorage",    "torch.ByteStorage",   "torch.BoolStorage"};
  return names;
}
const std::set<std::string>& dtype_globals() {
  static const std::set<std::string> names = {
      "torch.float32", "torch.float", "torch.float16", "torch.half",  "torch.bfloat16", "torch.float64",
      "torch.double",  "torch.int64", "torch.long",    "torch.int32", "torch.int",      "torch.int16",
      "torch.short",   "torch.int8",  "torch.uint8",   "torch.bool"};
  return names;
}

const char* opcode_name(uint8_t op) {
  switch (op) {
    case 'i': return "INST";
    case 'o': return "OBJ";
    case 'b': return "BUILD";
    case 0x81: return "NEWOBJ";
    case 0x92: return "NEWOBJ_EX";
    case 0x82: case 0x83: case 0x84: return "EXT";
    case 'P': return "PERSID";
    default: return nullptr;
  }
}

class Machine {
 public:
  Machine(const uint8_t* data, size_t size, const std::string& where)
      : p_(data), begin_(data), end_(data + size), where_(where) {}

  Document run() {
    while (true) {
      const size_t at = static_cast<size_t>(p_ - begin_);
      const uint8_t op = byte();
      switch (op) {
        case 0x80: byte(); break;                       // PROTO
        case 0x95: bytes(8); break;                     // FRAME: a length hint
        case '(': push_raw(kMark); break;               // MARK
        case '.': return finish();                      // STOP
        case '0': pop(); break;                         // POP
        case '1': pop_mark(); break;                    // POP_MARK
        case '2': push_raw(top()); break;               // DUP
        case 'N': push(Value{}); break;                 // NONE
        case 0x88: push(boolean(true)); break;          // NEWTRUE
        case 0x89: push(boolean(false)); break;         // NEWFALSE
        case 'K': push(integer(number(1))); break;      // BININT1
        case 'M': push(integer(number(2))); break;      // BININT2
        case 'J': push(integer(static_cast<int32_t>(number(4)))); break;  // BININT
        case 0x8a: push(integer(long1())); break;       // LONG1
        case 'G': push(real()); break;                  // BINFLOAT
        case 'X': push(text(Kind::String, number(4))); break;     // BINUNICODE
        case 0x8c: push(text(Kind::String, number(1))); break;    // SHORT_BINUNICODE
        case 0x8d: push(text(Kind::String, number(8))); break;    // BINUNICODE8
        case 'T': push(text(Kind::String, number(4))); break;     // BINSTRING
        case 'U': push(text(Kind::String, number(1))); break;     // SHORT_BINSTRING
        case 'B': push(text(Kind::Bytes, number(4))); break;      // BINBYTES
        case 'C': push(text(Kind::Bytes, number(1))); break;      // SHORT_BINBYTES
        case 0x8e: push(text(Kind::Bytes, number(8))); break;     // BINBYTES8
        case ')': push(container(Kind::Tuple, {})); break;        // EMPTY_TUPLE
        case ']': push(container(Kind::List, {})); break;         // EMPTY_LIST
        case '}': push(container(Kind::Dict, {})); break;         // EMPTY_DICT
        case 0x85: push(container(Kind::Tuple, pop_n(1))); break;  // TUPLE1
        case 0x86: push(container(Kind::Tuple, pop_n(2))); break;  // TUPLE2
        case 0x87: push(container(Kind::Tuple, pop_n(3))); break;  // TUPLE3
        case 't': push(container(Kind::Tuple, pop_mark())); break;  // TUPLE
        case 'l': push(container(Kind::List, pop_mark())); break;   // LIST
        case 'd': push(dict(pop_mark())); break;                    // DICT
        case 'a': append(pop_n(1)); break;                          // APPEND
        case 'e': append(pop_mark()); break;                        // APPENDS
        case 's': set_items(pop_n(2)); break;                       // SETITEM
        case 'u': set_items(pop_mark()); break;                     // SETITEMS
        case 'q': memo_[number(1)] = top(); break;                  // BINPUT
        case 'r': memo_[number(4)] = top(); break;                  // LONG_BINPUT
        case 0x94: memo_[memo_.size()] = top(); break;              // MEMOIZE
        case 'h': push_raw(memo(number(1))); break;                 // BINGET
        case 'j': push_raw(memo(number(4))); break;                 // LONG_BINGET
        case 'S': push(quoted(line())); break;                      // STRING (protocol 0)
        case 'V': push(plain(Kind::String, line())); break;         // UNICODE (protocol 0)
        case 'I': push(text_integer(line(), true)); break;          // INT (protocol 0)
        case 'L': push(text_integer(line(), false)); break;         // LONG (protocol 0)
        case 'p': memo_[decimal(line())] = top(); break;            // PUT (protocol 0)
        case 'g': push_raw(memo(decimal(line()))); break;           // GET (protocol 0)
        case 'c': {                                                 // GLOBAL
          std::string module = line();
          global(module, line());
          break;
        }
        case 0x93: stack_global(); break;                           // STACK_GLOBAL
        case 'R': reduce(); break;                                  // REDUCE
        case 'Q': persistent_load(); break;                         // BINPERSID
        default:
          if (const char* name = opcode_name(op))
            refuse("the opcode ", name, " (at byte ", at, ") constructs an object; a weights-only reader runs none");
          bad("opcode 0x", hex(op), " at byte ", at, " is not one a tensor checkpoint uses");
      }
    }
  }

 private:
  template <typename... Parts>
  [[noreturn]] void bad(Parts&&... parts) const {
    fail(ErrorCode::Format, "[pickle] ", where_, ": ", std::forward<Parts>(parts)...);
  }
  template <typename... Parts>
  [[noreturn]] void refuse(Parts&&... parts) const {
    fail(ErrorCode::Unsupported, "[pickle] ", where_, ": refused: ", std::forward<Parts>(parts)...,
         " (nothing in the file was run)");
  }
  static std::string hex(uint8_t v) {
    const char* digits = "0123456789abcdef";
    return {digits[v >> 4], digits[v & 15]};
  }

  uint8_t byte() {
    if (p_ >= end_) bad("ends without a STOP opcode (truncated)");
    return *p_++;
  }
  const uint8_t* bytes(uint64_t n) {
    if (static_cast<uint64_t>(end_ - p_) < n) bad("a ", n, "-byte field runs past the end");
    const uint8_t* at = p_;
    p_ += n;
    return at;
  }
  uint64_t number(int width) {
    const uint8_t* b = bytes(static_cast<uint64_t>(width));
    uint64_t v = 0;
    for (int i = width - 1; i >= 0; --i) v = (v << 8) | b[i];
    return v;
  }
  int64_t long1() {
    const uint64_t n = number(1);
    if (n > 8) bad("an integer of ", n, " bytes is larger than a tensor checkpoint holds");
    if (n == 0) return 0;
    const uint64_t v = number(static_cast<int>(n));
    const uint64_t sign = 1ull << (8 * n - 1);
    return n == 8 ? static_cast<int64_t>(v) : static_cast<int64_t>((v ^ sign) - sign);
  }
  std::string line() {
    const uint8_t* start = p_;
    while (p_ < end_ && *p_ != '\n') ++p_;
    if (p_ >= end_) bad("a GLOBAL's name is not terminated");
    return std::string(reinterpret_cast<const char*>(start), static_cast<size_t>(p_++ - start));
  }

  // Protocol 0 writes numbers and strings as text lines.
  uint64_t decimal(const std::string& s) const {
    if (s.empty() || s.size() > 18 || s.find_first_not_of("0123456789") != std::string::npos) bad("'", s, "' is not a number");
    return std::stoull(s);
  }
  Value text_integer(std::string s, bool bool_form) const {
    if (bool_form && (s == "00" || s == "01")) {
      Value x;
      x.kind = Kind::Bool;
      x.integer = s == "01";
      return x;
    }
    if (!bool_form && !s.empty() && s.back() == 'L') s.pop_back();
    const bool negative = !s.empty() && s[0] == '-';
    Value x;
    x.kind = Kind::Int;
    x.integer = static_cast<int64_t>(decimal(negative ? s.substr(1) : s)) * (negative ? -1 : 1);
    return x;
  }
  Value quoted(const std::string& s) const {
    if (s.size() < 2 || (s[0] != '\'' && s[0] != '"') || s.back() != s[0]) bad("a STRING that is not quoted");
    return plain(Kind::String, s.substr(1, s.size() - 2));
  }
  static Value plain(Kind kind, std::string s) {
    Value x;
    x.kind = kind;
    x.text = std::move(s);
    return x;
  }
  Value boolean(bool v) { Value x; x.kind = Kind::Bool; x.integer = v; return x; }
  Value integer(int64_t v) { Value x; x.kind = Kind::Int; x.integer = v; return x; }
  Value real() {
    const uint8_t* b = bytes(8);
    uint64_t bits = 0;
    for (int i = 0; i < 8; ++i) bits = (bits << 8) | b[i];  // big-endian
    Value x;
    x.kind = Kind::Float;
    std::memcpy(&x.real, &bits, 8);
    return x;
  }
  Value text(Kind kind, uint64_t n) {
    const uint8_t* b = bytes(n);
    Value x;
    x.kind = kind;
    x.text.assign(reinterpret_cast<const char*>(b), static_cast<size_t>(n));
    return x;
  }
  Value container(Kind kind, std::vector<size_t> items) {
    Value x;
    x.kind = kind;
    x.items = std::move(items);
    return x;
  }
  Value dict(std::vector<size_t> items) {
    if (items.size() % 2) bad("DICT with an odd number of items");
    return container(Kind::Dict, std::move(items));
  }

  size_t add(Value v) {
    if (values_.size() >= kMaxValues) bad("more than ", kMaxValues, " values");
    values_.push_back(std::move(v));
    return values_.size() - 1;
  }
  void push_raw(size_t index) {
    if (stack_.size() >= kMaxStack) bad("the stack grows past ", kMaxStack, " entries");
    stack_.push_back(index);
  }
  void push(Value v) { push_raw(add(std::move(v))); }
  size_t top() const {
    if (stack_.empty() || stack_.back() == kMark) bad("an opcode needs a value on an empty stack");
    return stack_.back();
  }
  size_t pop() {
    const size_t v = top();
    stack_.pop_back();
    return v;
  }
  std::vector<size_t> pop_n(size_t n) {
    std::vector<size_t> out(n);
    for (size_t i = n; i-- > 0;) out[i] = pop();
    return out;
  }
  std::vector<size_t> pop_mark() {
    size_t i = stack_.size();
    while (i > 0 && stack_[i - 1] != kMark) --i;
    if (i == 0) bad("no MARK for an opcode that needs one");
    std::vector<size_t> out(stack_.begin() + static_cast<std::ptrdiff_t>(i), stack_.end());
    stack_.resize(i - 1);
    return out;
  }
  size_t memo(uint64_t key) const {
    auto it = memo_.find(key);
    if (it == memo_.end()) bad("memo entry ", key, " read before it is written");
    return it->second;
  }
  Value& target(Kind kind, const char* op) {
    Value& v = values_[top()];
    if (v.kind != kind) bad(op, " on a value that is not a ", kind == Kind::List ? "list" : "dict");
    return v;
  }
  void append(const std::vector<size_t>& items) {
    Value& list = target(Kind::List, "APPEND");
    list.items.insert(list.items.end(), items.begin(), items.end());
  }
  void set_items(const std::vector<size_t>& items) {
    if (items.size() % 2) bad("SETITEMS with an odd number of items");
    Value& d = target(Kind::Dict, "SETITEM");
    d.items.insert(d.items.end(), items.begin(), items.end());
  }

  void global(const std::string& module, const std::string& name) {
    const std::string full = module + "." + name;
    if (!callable_globals().count(full) && !storage_globals().count(full) && !dtype_globals().count(full))
      refuse("the global '", full, "' is not one a weights-only reader allows (OrderedDict, torch's tensor rebuild "
             "functions, storage classes, dtypes, torch.Size)");
    Value g;
    g.kind = Kind::Global;
    g.text = full;
    push(std::move(g));
  }
  void stack_global() {
    const size_t name = pop(), module = pop();
    if (values_[name].kind != Kind::String || values_[module].kind != Kind::String)
      bad("STACK_GLOBAL takes two strings");
    global(values_[module].text, values_[name].text);
  }

  const Value& arg(const std::vector<size_t>& args, size_t i, Kind kind, const char* what) const {
    if (i >= args.size() || values_[args[i]].kind != kind) bad("_rebuild_tensor_v2: argument ", i, " is not ", what);
    return values_[args[i]];
  }
  std::vector<int64_t> ints(const Value& tuple, const char* what) const {
    std::vector<int64_t> out;
    if (tuple.items.size() > 8) bad("a tensor of ", tuple.items.size(), " dimensions");
    for (size_t item : tuple.items) {
      if (values_[item].kind != Kind::Int || values_[item].integer < 0) bad("a tensor's ", what, " holds a non-integer or negative value");
      out.push_back(values_[item].integer);
    }
    return out;
  }

  void reduce() {
    const size_t args_index = pop(), callable = pop();
    const Value& f = values_[callable];
    if (f.kind != Kind::Global) bad("REDUCE of a value that is not a global");
    if (!callable_globals().count(f.text)) refuse("'", f.text, "' is data, not a function the reader calls");
    if (values_[args_index].kind != Kind::Tuple) bad("REDUCE's arguments are not a tuple");
    const std::vector<size_t> args = values_[args_index].items;
    if (f.text == "collections.OrderedDict") {
      if (!args.empty()) bad("OrderedDict is built empty and filled by SETITEMS in a checkpoint");
      push(container(Kind::Dict, {}));
    } else if (f.text == "torch.Size") {
      if (args.size() != 1 || values_[args[0]].kind != Kind::Tuple) bad("torch.Size takes one tuple");
      push(container(Kind::Tuple, values_[args[0]].items));
    } else if (f.text == "torch._utils._rebuild_parameter") {
      if (args.empty() || values_[args[0]].kind != Kind::Tensor) bad("_rebuild_parameter without a tensor");
      push_raw(args[0]);
    } else {  // torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata])
      if (args.size() < 4 || args.size() > 7) bad("_rebuild_tensor_v2 with ", args.size(), " arguments");
      Value t;
      t.kind = Kind::Tensor;
      t.tensor.storage = args[0];
      arg(args, 0, Kind::Storage, "a storage");
      t.tensor.offset = arg(args, 1, Kind::Int, "an offset").integer;
      if (t.tensor.offset < 0) bad("_rebuild_tensor_v2: a negative storage offset");
      t.tensor.size = ints(arg(args, 2, Kind::Tuple, "a size tuple"), "size");
      t.tensor.stride = ints(arg(args, 3, Kind::Tuple, "a stride tuple"), "stride");
      if (t.tensor.size.size() != t.tensor.stride.size()) bad("_rebuild_tensor_v2: sizes and strides differ in length");
      push(std::move(t));
    }
  }

  // torch's persistent id of a storage: ('storage', StorageClass, key, location, numel).
  void persistent_load() {
    const Value& pid = values_[pop()];
    if (pid.kind != Kind::Tuple || pid.items.size() != 5) bad("a persistent id that is not a 5-tuple");
    const Value &tag = values_[pid.items[0]], &type = values_[pid.items[1]], &key = values_[pid.items[2]],
                &numel = values_[pid.items[4]];
    if (tag.kind != Kind::String || tag.text != "storage") bad("a persistent id that is not a storage");
    if (type.kind != Kind::Global || !storage_globals().count(type.text)) bad("a storage without a storage class");
    if (key.kind != Kind::String || numel.kind != Kind::Int || numel.integer < 0) bad("a storage with a bad key or size");
    Value s;
    s.kind = Kind::Storage;
    s.storage_type = type.text;
    s.text = key.text;
    s.integer = numel.integer;
    push(std::move(s));
  }

  Document finish() {
    Document doc;
    doc.root = pop();
    if (!stack_.empty()) bad("values are left on the stack at STOP");
    doc.values = std::move(values_);
    return doc;
  }

  const uint8_t* p_;
  const uint8_t* const begin_;
  const uint8_t* const end_;
  const std::string& where_;
  std::vector<Value> values_;
  std::vector<size_t> stack_;
  std::unordered_map<uint64_t, size_t> memo_;
};

}  // namespace

Document read(const uint8_t* data, size_t size, const std::string& where) { return Machine(data, size, where).run(); }

}  // namespace sdxl::io::pickle
