#pragma once
/// @file pickle.hpp
/// A restricted unpickler for what `torch.save(model.state_dict())` writes (pickle protocol 2).
/// Nothing is ever executed: the only globals accepted are collections.OrderedDict,
/// torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter and the torch storage types;
/// any other global (os.system, builtins.eval, ...) throws io_error naming it. The objects are
/// kept in a flat arena addressed by index, so sharing through the memo is exact and neither
/// deep nesting nor cycles can overflow the stack when walking or destroying them. Stack, memo,
/// mark depth and string lengths are bounded, and each opcode consumes at least one input byte,
/// so the work is bounded by the input size.
///
/// @code
/// xrestore::detail::pickle_document doc = xrestore::detail::unpickle(pkl, "model.pth/data.pkl");
/// const auto* dict = std::get_if<xrestore::detail::pickle_dict>(&doc.root().value);
/// for (auto [k, v] : dict->items) std::cout << doc.describe(k) << '\n';
/// @endcode

#include "xrestore/core/error.hpp"
#include "xrestore/io/state_dict.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

namespace xrestore::detail {

/// A torch storage class (torch.FloatStorage, ...): its name, element size and the dtype of
/// the tensors it holds.
struct torch_storage_type {
    std::string_view name;
    std::size_t element_size = 0;
    weight_dtype dtype = weight_dtype::float32;
};

/// The storage classes the unpickler knows.
inline constexpr std::array<torch_storage_type, 10> torch_storage_types{{
    {"FloatStorage", 4, weight_dtype::float32},
    {"HalfStorage", 2, weight_dtype::float16},
    {"BFloat16Storage", 2, weight_dtype::bfloat16},
    {"DoubleStorage", 8, weight_dtype::float64},
    {"LongStorage", 8, weight_dtype::int64},
    {"IntStorage", 4, weight_dtype::int32},
    {"ShortStorage", 2, weight_dtype::int16},
    {"CharStorage", 1, weight_dtype::int8},
    {"ByteStorage", 1, weight_dtype::uint8},
    {"BoolStorage", 1, weight_dtype::boolean},
}};

/// The callables a pickle may name (REDUCE is refused on anything else).
enum class pickle_callable { ordered_dict, rebuild_tensor_v2, rebuild_parameter };

/// An accepted global: a callable or a storage type (index into torch_storage_types).
struct pickle_global {
    std::variant<pickle_callable, std::size_t> what;
};
struct pickle_tuple {
    std::vector<std::size_t> items;
};
struct pickle_list {
    std::vector<std::size_t> items;
};
/// An ordered dict; keys are string or integer objects; (key, value) object indices.
struct pickle_dict {
    std::vector<std::pair<std::size_t, std::size_t>> items;
};
/// A storage named by a persistent id ('storage', type, key, location, numel).
struct pickle_storage {
    std::size_t type = 0; ///< index into torch_storage_types
    std::string key;
    std::string location;
    std::int64_t numel = 0;
};
/// A tensor built by _rebuild_tensor_v2(storage, offset, size, stride, ...); counts in elements.
struct pickle_tensor {
    std::size_t storage = 0; ///< object index of a pickle_storage
    std::int64_t offset = 0;
    std::vector<std::int64_t> shape;
    std::vector<std::int64_t> stride;
};

/// One unpickled object.
struct pickle_object {
    std::variant<std::monostate, bool, std::int64_t, double, std::string, pickle_tuple, pickle_list,
                 pickle_dict, pickle_global, pickle_storage, pickle_tensor>
        value;
};

/// "a tensor", "an int (3)", "a string ('x')", ... for error messages.
inline std::string describe(const std::vector<pickle_object>& objects, std::size_t i) {
    const auto& v = objects[i].value;
    switch (v.index()) {
    case 0:
        return "None";
    case 1:
        return std::get<bool>(v) ? "a bool (True)" : "a bool (False)";
    case 2:
        return concat("an int (", std::get<std::int64_t>(v), ")");
    case 3:
        return concat("a float (", std::get<double>(v), ")");
    case 4: {
        const auto& s = std::get<std::string>(v);
        return concat("a string ('", s.size() > 40 ? s.substr(0, 40) + "..." : s, "')");
    }
    case 5:
        return concat("a tuple of ", std::get<pickle_tuple>(v).items.size(), " items");
    case 6:
        return concat("a list of ", std::get<pickle_list>(v).items.size(), " items");
    case 7:
        return concat("a dict of ", std::get<pickle_dict>(v).items.size(), " items");
    case 8:
        return "a class or function";
    case 9:
        return "a storage";
    default:
        return "a tensor";
    }
}

/// The result of unpickling: every object created, and the one STOP returned.
struct pickle_document {
    std::vector<pickle_object> objects;
    std::size_t root_index = 0;

    [[nodiscard]] const pickle_object& root() const { return objects[root_index]; }
    [[nodiscard]] const pickle_object& at(std::size_t i) const { return objects[i]; }
    [[nodiscard]] std::string describe(std::size_t i) const { return detail::describe(objects, i); }
};

/// Limits of the unpickler.
struct pickle_limits {
    std::size_t max_stack = 1 << 16;   ///< torch's pickles stay below a few thousand
    std::size_t max_marks = 1 << 12;   ///< MARKs open at once (nesting of tuples and batches)
    std::size_t max_memo = 1 << 20;    ///< memo entries
    std::size_t max_objects = 1 << 21; ///< objects created (a state_dict needs ~15 per tensor)
    std::size_t max_rank = 64;         ///< dimensions of a tensor
};

class unpickler {
public:
    unpickler(std::span<const unsigned char> bytes, std::string source, pickle_limits limits)
        : in_(bytes), source_(std::move(source)), limits_(limits) {}
    unpickler(const unpickler&) = delete;
    unpickler& operator=(const unpickler&) = delete;

    pickle_document run() {
        while (true) {
            op_at_ = pos_;
            const unsigned char op = byte();
            switch (op) {
            case 0x80: { // PROTO
                const unsigned char version = byte();
                if (version > 5) {
                    fail(concat("protocol must be at most 5, got ", static_cast<int>(version)));
                }
                break;
            }
            case 0x95: // FRAME: an 8-byte length, nothing to do for an in-memory input
                (void)take(8);
                break;
            case 'c': { // GLOBAL module\n name\n
                std::string module = line();
                std::string name = line();
                push(make_global(module, name));
                break;
            }
            case 0x93: { // STACK_GLOBAL
                const std::size_t name = pop();
                const std::size_t module = pop();
                const std::string module_text = text_of(module, "STACK_GLOBAL module");
                const std::string name_text = text_of(name, "STACK_GLOBAL name");
                push(make_global(module_text, name_text));
                break;
            }
            case '}': // EMPTY_DICT
                push(make(pickle_dict{}));
                break;
            case ')': // EMPTY_TUPLE
                push(make(pickle_tuple{}));
                break;
            case ']': // EMPTY_LIST
                push(make(pickle_list{}));
                break;
            case '(': // MARK
                if (marks_.size() >= limits_.max_marks) {
                    fail(concat("nesting must be at most ", limits_.max_marks, " MARKs deep"));
                }
                marks_.push_back(stack_.size());
                break;
            case 't': { // TUPLE
                pickle_tuple t;
                t.items = pop_to_mark();
                push(make(std::move(t)));
                break;
            }
            case 0x85:   // TUPLE1
            case 0x86:   // TUPLE2
            case 0x87: { // TUPLE3
                const std::size_t n = static_cast<std::size_t>(op - 0x84);
                need_stack(n, "TUPLE1/2/3");
                pickle_tuple t;
                t.items.assign(stack_.end() - static_cast<std::ptrdiff_t>(n), stack_.end());
                stack_.resize(stack_.size() - n);
                push(make(std::move(t)));
                break;
            }
            case 'X': // BINUNICODE
                push(make(std::string(chars(static_cast<std::size_t>(le(4))))));
                break;
            case 0x8c: // SHORT_BINUNICODE
                push(make(std::string(chars(byte()))));
                break;
            case 0x8d: // BINUNICODE8
                push(make(std::string(chars(length8()))));
                break;
            case 'U': // SHORT_BINSTRING
                push(make(std::string(chars(byte()))));
                break;
            case 'T': { // BINSTRING: a signed 4-byte length
                const auto n = static_cast<std::int32_t>(static_cast<std::uint32_t>(le(4)));
                if (n < 0) {
                    fail(concat("BINSTRING length must be non-negative, got ", n));
                }
                push(make(std::string(chars(static_cast<std::size_t>(n)))));
                break;
            }
            case 'J': // BININT: signed 4 bytes
                push(make(static_cast<std::int64_t>(
                    static_cast<std::int32_t>(static_cast<std::uint32_t>(le(4))))));
                break;
            case 'K': // BININT1
                push(make(static_cast<std::int64_t>(byte())));
                break;
            case 'M': // BININT2
                push(make(static_cast<std::int64_t>(le(2))));
                break;
            case 0x8a: { // LONG1: n bytes of little-endian two's complement
                const std::size_t n = byte();
                if (n > 8) {
                    fail(concat("LONG1 integers must fit in 8 bytes, got ", n, " bytes"));
                }
                std::uint64_t v = n == 0 ? 0 : le(n);
                if (n > 0 && n < 8 && (v >> (8 * n - 1)) != 0) {
                    v |= ~std::uint64_t{0} << (8 * n); // sign-extend
                }
                push(make(static_cast<std::int64_t>(v)));
                break;
            }
            case 'N': // NONE
                push(make(std::monostate{}));
                break;
            case 0x88: // NEWTRUE
                push(make(true));
                break;
            case 0x89: // NEWFALSE
                push(make(false));
                break;
            case 'G': { // BINFLOAT: big-endian IEEE double
                std::uint64_t bits = 0;
                for (unsigned char b : take(8)) {
                    bits = (bits << 8) | b;
                }
                double d = 0;
                std::memcpy(&d, &bits, sizeof d);
                push(make(d));
                break;
            }
            case 'q': // BINPUT
                memo_put(byte());
                break;
            case 'r': // LONG_BINPUT
                memo_put(le(4));
                break;
            case 0x94: // MEMOIZE
                memo_put(memo_.size());
                break;
            case 'h': // BINGET
                memo_get(byte());
                break;
            case 'j': // LONG_BINGET
                memo_get(le(4));
                break;
            case 's': { // SETITEM
                need_stack(3, "SETITEM");
                const std::size_t value = pop();
                const std::size_t key = pop();
                set_item(top(), key, value);
                break;
            }
            case 'u': { // SETITEMS
                const std::vector<std::size_t> items = pop_to_mark();
                if (items.size() % 2 != 0) {
                    fail("SETITEMS needs key/value pairs, got an odd number of items");
                }
                need_stack(1, "SETITEMS");
                for (std::size_t k = 0; k < items.size(); k += 2) {
                    set_item(top(), items[k], items[k + 1]);
                }
                break;
            }
            case 'a': { // APPEND
                need_stack(2, "APPEND");
                const std::size_t value = pop();
                list_of(top()).items.push_back(value);
                break;
            }
            case 'e': { // APPENDS
                const std::vector<std::size_t> items = pop_to_mark();
                need_stack(1, "APPENDS");
                auto& list = list_of(top());
                list.items.insert(list.items.end(), items.begin(), items.end());
                break;
            }
            case 'R': { // REDUCE
                need_stack(2, "REDUCE");
                const std::size_t args = pop();
                const std::size_t callable = pop();
                push(reduce(callable, args));
                break;
            }
            case 'b': { // BUILD: only OrderedDict state (a state_dict's _metadata) is accepted
                need_stack(2, "BUILD");
                (void)pop();
                if (!std::holds_alternative<pickle_dict>(objects_[top()].value)) {
                    fail(concat("BUILD is only accepted on an OrderedDict, got it on ",
                                describe(objects_, top())));
                }
                break;
            }
            case 'Q': // BINPERSID
                push(persistent_load(pop()));
                break;
            case '.': { // STOP
                if (stack_.size() != 1 || !marks_.empty()) {
                    fail(concat("STOP must leave exactly one object and no MARK, got ",
                                stack_.size(), " objects and ", marks_.size(), " MARKs"));
                }
                pickle_document doc;
                doc.root_index = stack_.back();
                doc.objects = std::move(objects_);
                return doc;
            }
            default:
                fail(concat("unsupported opcode 0x", hex_byte(op),
                            " (only what torch.save writes with protocol 2 is accepted)"));
            }
        }
    }

private:
    std::span<const unsigned char> in_;
    std::string source_;
    pickle_limits limits_;
    std::size_t pos_ = 0;
    std::size_t op_at_ = 0;
    std::vector<pickle_object> objects_;
    std::vector<std::size_t> stack_;
    std::vector<std::size_t> marks_;
    std::unordered_map<std::uint64_t, std::size_t> memo_;
    /// (dict, key) object pairs already set, compared by key value, to refuse duplicate keys;
    /// each key's hash is computed once per key object, so re-used keys cost nothing more.
    struct dict_key {
        std::size_t dict;
        std::size_t key;
        std::size_t hash;
    };
    struct dict_key_hash {
        std::size_t operator()(const dict_key& k) const {
            return k.hash ^ (std::hash<std::size_t>{}(k.dict) * 0x9E3779B97F4A7C15ULL);
        }
    };
    struct dict_key_equal {
        const std::vector<pickle_object>* objects;
        bool operator()(const dict_key& a, const dict_key& b) const {
            if (a.dict != b.dict) {
                return false;
            }
            const auto& x = (*objects)[a.key].value;
            const auto& y = (*objects)[b.key].value;
            if (const auto* s = std::get_if<std::string>(&x)) {
                const auto* t = std::get_if<std::string>(&y);
                return t != nullptr && *s == *t;
            }
            const auto* i = std::get_if<std::int64_t>(&x);
            const auto* j = std::get_if<std::int64_t>(&y);
            return i != nullptr && j != nullptr && *i == *j;
        }
    };
    std::unordered_set<dict_key, dict_key_hash, dict_key_equal> dict_keys_{
        0, dict_key_hash{}, dict_key_equal{&objects_}};
    std::unordered_map<std::size_t, std::size_t> key_hashes_;

    [[noreturn]] void fail(const std::string& what) const {
        throw io_error(
            concat("unpickle: '", source_, "': ", what, " (opcode at byte ", op_at_, ")"));
    }

    static std::string hex_byte(unsigned char b) {
        static constexpr char digits[] = "0123456789abcdef";
        return {digits[b >> 4], digits[b & 0xFU]};
    }

    std::span<const unsigned char> take(std::size_t n) {
        if (n > in_.size() - pos_) {
            fail(concat("truncated: needs ", n, " more bytes, only ", in_.size() - pos_, " left"));
        }
        auto s = in_.subspan(pos_, n);
        pos_ += n;
        return s;
    }
    unsigned char byte() { return take(1)[0]; }
    std::uint64_t le(std::size_t width) {
        std::uint64_t v = 0;
        const auto s = take(width);
        for (std::size_t k = 0; k < width; ++k) {
            v |= static_cast<std::uint64_t>(s[k]) << (8 * k);
        }
        return v;
    }
    std::size_t length8() {
        const std::uint64_t n = le(8);
        if (n > in_.size() - pos_) {
            fail(concat("string of ", n, " bytes runs past the end (", in_.size() - pos_,
                        " bytes left)"));
        }
        return static_cast<std::size_t>(n);
    }
    std::string_view chars(std::size_t n) {
        const auto s = take(n);
        return {reinterpret_cast<const char*>(s.data()), s.size()};
    }
    /// Text up to the next '\n' (at most 256 bytes, as module and class names are).
    std::string line() {
        const std::size_t end = std::min(in_.size(), pos_ + 257);
        for (std::size_t k = pos_; k < end; ++k) {
            if (in_[k] == '\n') {
                std::string s(reinterpret_cast<const char*>(in_.data() + pos_), k - pos_);
                pos_ = k + 1;
                return s;
            }
        }
        fail("GLOBAL name is unterminated or longer than 256 bytes");
    }

    template <class T>
    std::size_t make(T&& value) {
        if (objects_.size() >= limits_.max_objects) {
            fail(concat("must create at most ", limits_.max_objects, " objects"));
        }
        objects_.push_back(pickle_object{std::forward<T>(value)});
        return objects_.size() - 1;
    }
    void push(std::size_t object) {
        if (stack_.size() >= limits_.max_stack) {
            fail(concat("stack must hold at most ", limits_.max_stack, " objects"));
        }
        stack_.push_back(object);
    }
    void need_stack(std::size_t n, std::string_view op) const {
        const std::size_t floor = marks_.empty() ? 0 : marks_.back();
        if (stack_.size() - floor < n) {
            fail(concat(op, " needs ", n, " objects on the stack above the last MARK, got ",
                        stack_.size() - floor));
        }
    }
    std::size_t pop() {
        need_stack(1, "this opcode");
        const std::size_t v = stack_.back();
        stack_.pop_back();
        return v;
    }
    std::size_t top() const { return stack_.back(); }
    std::vector<std::size_t> pop_to_mark() {
        if (marks_.empty()) {
            fail("no MARK to pop to");
        }
        const std::size_t mark = marks_.back();
        marks_.pop_back();
        std::vector<std::size_t> items(stack_.begin() + static_cast<std::ptrdiff_t>(mark),
                                       stack_.end());
        stack_.resize(mark);
        return items;
    }

    void memo_put(std::uint64_t key) {
        if (stack_.empty()) {
            fail("memo store with an empty stack");
        }
        if (memo_.size() >= limits_.max_memo && memo_.count(key) == 0) {
            fail(concat("memo must hold at most ", limits_.max_memo, " objects"));
        }
        memo_[key] = stack_.back();
    }
    void memo_get(std::uint64_t key) {
        auto it = memo_.find(key);
        if (it == memo_.end()) {
            fail(concat("memo key ", key, " was never stored"));
        }
        push(it->second);
    }

    std::size_t make_global(const std::string& module, const std::string& name) {
        if (module == "collections" && name == "OrderedDict") {
            return make(pickle_global{pickle_callable::ordered_dict});
        }
        if (module == "torch._utils" && name == "_rebuild_tensor_v2") {
            return make(pickle_global{pickle_callable::rebuild_tensor_v2});
        }
        if (module == "torch._utils" && name == "_rebuild_parameter") {
            return make(pickle_global{pickle_callable::rebuild_parameter});
        }
        if (module == "torch") {
            for (std::size_t k = 0; k < torch_storage_types.size(); ++k) {
                if (name == torch_storage_types[k].name) {
                    return make(pickle_global{k});
                }
            }
        }
        fail(concat("refused global '", module, ".", name,
                    "': only collections.OrderedDict, torch._utils._rebuild_tensor_v2, "
                    "torch._utils._rebuild_parameter and torch.*Storage are allowed "
                    "(nothing in a weights file is ever executed)"));
    }

    const std::string& text_of(std::size_t object, std::string_view what) const {
        const auto* s = std::get_if<std::string>(&objects_[object].value);
        if (s == nullptr) {
            fail(concat(what, " must be a string, got ", describe(objects_, object)));
        }
        return *s;
    }
    std::int64_t int_of(std::size_t object, std::string_view what) const {
        const auto* i = std::get_if<std::int64_t>(&objects_[object].value);
        if (i == nullptr) {
            fail(concat(what, " must be an int, got ", describe(objects_, object)));
        }
        return *i;
    }
    const std::vector<std::size_t>& tuple_of(std::size_t object, std::string_view what) const {
        const auto* t = std::get_if<pickle_tuple>(&objects_[object].value);
        if (t == nullptr) {
            fail(concat(what, " must be a tuple, got ", describe(objects_, object)));
        }
        return t->items;
    }
    pickle_list& list_of(std::size_t object) {
        auto* l = std::get_if<pickle_list>(&objects_[object].value);
        if (l == nullptr) {
            fail(concat("APPEND/APPENDS need a list, got ", describe(objects_, object)));
        }
        return *l;
    }

    void set_item(std::size_t dict, std::size_t key, std::size_t value) {
        auto* d = std::get_if<pickle_dict>(&objects_[dict].value);
        if (d == nullptr) {
            fail(concat("SETITEM/SETITEMS need a dict, got ", describe(objects_, dict)));
        }
        auto cached = key_hashes_.find(key);
        if (cached == key_hashes_.end()) {
            std::size_t h = 0;
            if (const auto* s = std::get_if<std::string>(&objects_[key].value)) {
                h = std::hash<std::string>{}(*s);
            } else if (const auto* i = std::get_if<std::int64_t>(&objects_[key].value)) {
                h = std::hash<std::int64_t>{}(*i) ^ 0x5bd1e995U;
            } else {
                fail(concat("dict keys must be strings or ints, got ", describe(objects_, key)));
            }
            cached = key_hashes_.emplace(key, h).first;
        }
        if (!dict_keys_.insert(dict_key{dict, key, cached->second}).second) {
            fail(concat("duplicate dict key ", describe(objects_, key)));
        }
        d->items.emplace_back(key, value);
    }

    std::size_t persistent_load(std::size_t pid) {
        // ('storage', torch.FloatStorage, key, location, numel)
        const auto& t = tuple_of(pid, "persistent id");
        if (t.size() != 5 || text_of(t[0], "persistent id tag") != "storage") {
            fail(concat("persistent id must be ('storage', type, key, location, numel), got ",
                        describe(objects_, pid)));
        }
        const auto* g = std::get_if<pickle_global>(&objects_[t[1]].value);
        if (g == nullptr || !std::holds_alternative<std::size_t>(g->what)) {
            fail(concat("storage type must be a torch.*Storage class, got ",
                        describe(objects_, t[1])));
        }
        pickle_storage s;
        s.type = std::get<std::size_t>(g->what);
        s.key = text_of(t[2], "storage key");
        s.location = text_of(t[3], "storage location");
        s.numel = int_of(t[4], "storage size");
        if (s.numel < 0) {
            fail(concat("storage '", s.key, "' size must be non-negative, got ", s.numel));
        }
        return make(std::move(s));
    }

    std::vector<std::int64_t> int_tuple(std::size_t object, std::string_view what) const {
        const auto& items = tuple_of(object, what);
        if (items.size() > limits_.max_rank) {
            fail(concat(what, " must have at most ", limits_.max_rank, " dimensions, got ",
                        items.size()));
        }
        std::vector<std::int64_t> v;
        v.reserve(items.size());
        for (std::size_t i : items) {
            v.push_back(int_of(i, what));
        }
        return v;
    }

    std::size_t reduce(std::size_t callable, std::size_t args_object) {
        const auto* g = std::get_if<pickle_global>(&objects_[callable].value);
        if (g == nullptr || !std::holds_alternative<pickle_callable>(g->what)) {
            fail(concat("REDUCE is only accepted on OrderedDict, _rebuild_tensor_v2 and "
                        "_rebuild_parameter, got it on ",
                        describe(objects_, callable)));
        }
        if (tuple_of(args_object, "REDUCE arguments").size() > 7) {
            fail(concat("REDUCE arguments must be at most 7, got ",
                        describe(objects_, args_object)));
        }
        const std::vector<std::size_t> args = tuple_of(args_object, "REDUCE arguments");
        switch (std::get<pickle_callable>(g->what)) {
        case pickle_callable::ordered_dict:
            if (!args.empty()) {
                fail(concat("OrderedDict() must be called without arguments, got ", args.size()));
            }
            return make(pickle_dict{});
        case pickle_callable::rebuild_tensor_v2: {
            // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
            if (args.size() != 6 && args.size() != 7) {
                fail(concat("_rebuild_tensor_v2 takes 6 or 7 arguments, got ", args.size()));
            }
            if (!std::holds_alternative<pickle_storage>(objects_[args[0]].value)) {
                fail(concat("_rebuild_tensor_v2 needs a storage, got ",
                            describe(objects_, args[0])));
            }
            pickle_tensor t;
            t.storage = args[0];
            t.offset = int_of(args[1], "storage offset");
            t.shape = int_tuple(args[2], "tensor size");
            t.stride = int_tuple(args[3], "tensor stride");
            if (t.shape.size() != t.stride.size()) {
                fail(concat("tensor size and stride must have the same length, got ",
                            t.shape.size(), " and ", t.stride.size()));
            }
            return make(std::move(t));
        }
        case pickle_callable::rebuild_parameter:
            // Parameter(data, requires_grad, backward_hooks) is its data
            if (args.size() != 3 ||
                !std::holds_alternative<pickle_tensor>(objects_[args[0]].value)) {
                fail("_rebuild_parameter must be called as (tensor, requires_grad, hooks)");
            }
            return args[0];
        }
        fail("unknown callable");
    }
};

/// Unpickle `bytes` (a torch.save data.pkl); `source` names it in error messages.
inline pickle_document unpickle(std::span<const unsigned char> bytes, std::string source,
                                pickle_limits limits = {}) {
    return unpickler(bytes, std::move(source), limits).run();
}

} // namespace xrestore::detail
