// Structure-aware mutation for the libFuzzer targets whose input is a protobuf message
// (saved_model.pb, GraphDefs, checkpoint object graphs). Debian has no libprotobuf-mutator,
// and Strata's readers take several message types, so this one needs no schema: it parses
// the wire format (varint, fixed32, fixed64 and length-delimited fields; a length-delimited
// field that parses as a message is treated as one), changes it at the field level and
// writes it back with correct lengths:
//   varint   a value of interest (0, 1, 2^31, 2^32, 2^62, 2^64-1, ...) or a nearby one:
//            sizes, counts, enum values, node ids and other references
//   fixed    float/double bits of interest (NaN, infinities, huge, tiny) or integers
//   delete   a field removed
//   repeat   a field repeated up to the size limit (repeated-field counts)
//   copy     a field of another message inserted here (splices references between parts)
//   word     a string field set to a dictionary word or another string of the input (op
//            names, node and function names: references that point elsewhere or nowhere)
//   bytes    libFuzzer's byte mutation applied inside one field, lengths kept consistent
//   nest     a sub-message replaced by a copy of the message holding it, several levels
//            (recursive messages: StructuredValue, AttrValue lists, function call chains)
//   swap     two fields of a message exchanged (order of repeated fields)
//   raw      libFuzzer's byte mutation of the whole input
// Parsing and writing recurse once per nesting level, bounded by kMaxDepth.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mutator_dice.hpp"

extern "C" std::size_t LLVMFuzzerMutate(std::uint8_t* data, std::size_t size, std::size_t max_size);

namespace strata::fuzz {

inline constexpr int kMaxProtoDepth = 120;  // above protobuf's default recursion limit (100)

struct ProtoMessage;

struct ProtoField {
  std::uint32_t number = 0;
  std::uint8_t wire = 0;  // 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32
  std::uint64_t value = 0;
  std::string bytes;                  // wire 2
  std::shared_ptr<ProtoMessage> sub;  // wire 2 that parses as a message

  ProtoField clone() const;
};

struct ProtoMessage {
  std::vector<ProtoField> fields;
  ProtoMessage clone() const {
    ProtoMessage m;
    m.fields.reserve(fields.size());
    for (const auto& f : fields) m.fields.push_back(f.clone());
    return m;
  }
};

inline ProtoField ProtoField::clone() const {
  ProtoField f = *this;
  if (sub) f.sub = std::make_shared<ProtoMessage>(sub->clone());
  return f;
}

inline bool read_varint(std::string_view& in, std::uint64_t& out) {
  out = 0;
  for (int shift = 0; shift < 70 && !in.empty(); shift += 7) {
    const auto b = static_cast<std::uint8_t>(in.front());
    in.remove_prefix(1);
    if (shift < 64) out |= std::uint64_t{b & 0x7fu} << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

inline void write_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>(static_cast<std::uint8_t>(v) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}

// The message in `in`, or false when `in` is not a well-formed wire-format message.
inline bool parse_proto(std::string_view in, ProtoMessage& out, int depth = 0) {
  while (!in.empty()) {
    std::uint64_t key = 0;
    if (!read_varint(in, key)) return false;
    ProtoField f;
    f.number = static_cast<std::uint32_t>(key >> 3);
    f.wire = static_cast<std::uint8_t>(key & 7);
    if (f.number == 0 || (key >> 3) > 0x1fffffff) return false;
    switch (f.wire) {
      case 0:
        if (!read_varint(in, f.value)) return false;
        break;
      case 1:
      case 5: {
        const std::size_t n = f.wire == 1 ? 8 : 4;
        if (in.size() < n) return false;
        std::memcpy(&f.value, in.data(), n);
        in.remove_prefix(n);
        break;
      }
      case 2: {
        std::uint64_t n = 0;
        if (!read_varint(in, n) || n > in.size()) return false;
        f.bytes.assign(in.substr(0, n));
        in.remove_prefix(n);
        if (!f.bytes.empty() && depth < kMaxProtoDepth) {
          auto sub = std::make_shared<ProtoMessage>();
          if (parse_proto(f.bytes, *sub, depth + 1)) f.sub = std::move(sub);
        }
        break;
      }
      default:
        return false;  // groups and unknown wire types
    }
    out.fields.push_back(std::move(f));
  }
  return true;
}

inline void write_proto(const ProtoMessage& m, std::string& out) {
  for (const auto& f : m.fields) {
    write_varint(out, (std::uint64_t{f.number} << 3) | f.wire);
    switch (f.wire) {
      case 0:
        write_varint(out, f.value);
        break;
      case 1:
        out.append(reinterpret_cast<const char*>(&f.value), 8);
        break;
      case 5:
        out.append(reinterpret_cast<const char*>(&f.value), 4);
        break;
      default: {
        if (f.sub) {
          std::string inner;
          write_proto(*f.sub, inner);
          write_varint(out, inner.size());
          out += inner;
        } else {
          write_varint(out, f.bytes.size());
          out += f.bytes;
        }
      }
    }
  }
}

inline int proto_depth(const ProtoMessage& m) {
  int deepest = 0;
  for (const auto& f : m.fields) {
    if (f.sub) deepest = std::max(deepest, 1 + proto_depth(*f.sub));
  }
  return deepest;
}

// Names that TensorFlow's protos refer to things by: op types, attr keys, dtypes' attr
// values, object-graph and checkpoint names, Keras identifiers in SavedObject metadata.
inline std::vector<std::string> tensorflow_words() {
  return {"Const",
          "Placeholder",
          "Identity",
          "IdentityN",
          "NoOp",
          "PartitionedCall",
          "StatefulPartitionedCall",
          "ReadVariableOp",
          "VarHandleOp",
          "AssignVariableOp",
          "MatMul",
          "BatchMatMulV2",
          "BiasAdd",
          "Relu",
          "Softmax",
          "Add",
          "AddV2",
          "Mul",
          "Sub",
          "Reshape",
          "Transpose",
          "ConcatV2",
          "Pack",
          "StridedSlice",
          "Conv2D",
          "MaxPool",
          "Mean",
          "Sum",
          "Shape",
          "Fill",
          "Cast",
          "Select",
          "While",
          "If",
          "StatelessWhile",
          "T",
          "f",
          "Tin",
          "Tout",
          "dtype",
          "value",
          "shape",
          "_output_shapes",
          "N",
          "axis",
          "perm",
          "strides",
          "padding",
          "data_format",
          "transpose_a",
          "transpose_b",
          "keep_dims",
          "body",
          "cond",
          "then_branch",
          "else_branch",
          "serving_default",
          "__call__",
          "call_and_return_conditional_losses",
          "call_and_return_all_conditional_losses",
          "_default_save_signature",
          "keras_api",
          "variables",
          "trainable_variables",
          "regularization_losses",
          "layer_with_weights-0",
          "layer-0",
          "kernel",
          "bias",
          "optimizer",
          "iter",
          "m",
          "v",
          "save_counter",
          ".ATTRIBUTES/VARIABLE_VALUE",
          "_tf_keras_layer",
          "_tf_keras_model",
          "_tf_keras_sequential",
          "_tf_keras_network",
          "input_1",
          "output_0",
          "^",
          ":0",
          ":output:0",
          "/"};
}

class ProtoMutator {
 public:
  explicit ProtoMutator(std::vector<std::string> words = {}) : words_(std::move(words)) {}

  std::size_t mutate(std::uint8_t* data, std::size_t size, std::size_t max_size, unsigned seed) {
    dice_.seed(seed);
    if (pick(8) != 0 && (size <= (64u << 10) || pick(4) == 0)) {  // large inputs: mostly bytes (cost)
      ProtoMessage root;
      if (parse_proto(std::string_view(reinterpret_cast<const char*>(data), size), root) && !root.fields.empty()) {
        for (int tries = 0; tries < 4; ++tries) {
          ProtoMessage m = tries == 0 ? std::move(root) : ProtoMessage{};
          if (tries > 0 && !parse_proto(std::string_view(reinterpret_cast<const char*>(data), size), m)) break;
          if (!mutate_message(m, max_size)) continue;
          std::string out;
          write_proto(m, out);
          if (out.size() <= max_size && !out.empty()) return put_input(data, out);
        }
      }
    }
    return LLVMFuzzerMutate(data, size, max_size);
  }

 private:
  std::size_t pick(std::size_t n) { return dice_.pick(n); }
  std::size_t count(std::size_t max) { return dice_.count(max); }

  struct Slot {
    ProtoMessage* message;
    std::size_t index;
    int depth;
  };
  static void slots(ProtoMessage& m, int depth, std::vector<Slot>& out) {
    for (std::size_t i = 0; i < m.fields.size() && out.size() < (1u << 16); ++i) {
      out.push_back({&m, i, depth});
      if (m.fields[i].sub) slots(*m.fields[i].sub, depth + 1, out);
    }
  }
  static bool printable(const std::string& s) {
    if (s.empty() || s.size() > 128) return false;
    for (unsigned char c : s) {
      if (c < 0x20 || c > 0x7e) return false;
    }
    return true;
  }

  std::uint64_t interesting(std::uint64_t old, bool fixed32) {
    static constexpr std::uint64_t kValues[] = {0,
                                                1,
                                                2,
                                                3,
                                                0x7f,
                                                0x80,
                                                0xff,
                                                0xffff,
                                                0x7fffffff,
                                                0x80000000,
                                                0xffffffff,
                                                std::uint64_t{1} << 32,
                                                std::uint64_t{1} << 53,
                                                std::uint64_t{1} << 62,
                                                std::uint64_t{1} << 63,
                                                std::numeric_limits<std::uint64_t>::max(),
                                                std::numeric_limits<std::uint64_t>::max() - 1};
    static constexpr std::uint32_t kFloatBits[] = {0x7fc00000, 0x7f800000, 0xff800000,
                                                   0x7f7fffff, 0x00000001, 0x80000000};
    static constexpr std::uint64_t kDoubleBits[] = {0x7ff8000000000000, 0x7ff0000000000000, 0xfff0000000000000,
                                                    0x7fefffffffffffff, 0x0000000000000001};
    switch (pick(4)) {
      case 0:
        return kValues[pick(std::size(kValues))];
      case 1:
        return fixed32 ? kFloatBits[pick(std::size(kFloatBits))] : kDoubleBits[pick(std::size(kDoubleBits))];
      case 2:
        return pick(17);  // small: ids, indices, enum values
      default:
        return old + static_cast<std::uint64_t>(static_cast<std::int64_t>(pick(5)) - 2);
    }
  }

  bool mutate_message(ProtoMessage& root, std::size_t max_size) {
    std::vector<Slot> all;
    slots(root, 0, all);
    if (all.empty()) return false;
    const Slot s = all[pick(all.size())];
    ProtoField& f = s.message->fields[s.index];
    switch (pick(10)) {
      case 0:  // varint
        if (f.wire != 0) return false;
        f.value = interesting(f.value, false);
        if (pick(4) == 0) f.value = f.value & 0xffffffff;  // an int32 field's range
        return true;
      case 1:  // fixed
        if (f.wire != 1 && f.wire != 5) return false;
        f.value = interesting(f.value, f.wire == 5) & (f.wire == 5 ? 0xffffffffu : ~std::uint64_t{0});
        return true;
      case 2:  // delete
        s.message->fields.erase(s.message->fields.begin() + static_cast<std::ptrdiff_t>(s.index));
        return true;
      case 3: {  // repeat
        std::string one;
        ProtoMessage single;
        single.fields.push_back(f.clone());
        write_proto(single, one);
        const std::size_t times = count(max_size / (one.size() + 1) + 1);
        const ProtoField copy = f;  // the copies share a sub-message: one change per call
        s.message->fields.insert(s.message->fields.begin() + static_cast<std::ptrdiff_t>(s.index), times - 1, copy);
        return true;
      }
      case 4: {  // copy a field from elsewhere
        const Slot from = all[pick(all.size())];
        ProtoField copy = from.message->fields[from.index].clone();
        if (copy.sub && s.depth + proto_depth(*copy.sub) >= kMaxProtoDepth) return false;
        s.message->fields.insert(
            s.message->fields.begin() + static_cast<std::ptrdiff_t>(pick(s.message->fields.size() + 1)),
            std::move(copy));
        return true;
      }
      case 5: {  // word
        if (f.wire != 2) return false;
        std::vector<const std::string*> strings;
        for (const Slot& o : all) {
          const ProtoField& g = o.message->fields[o.index];
          if (g.wire == 2 && printable(g.bytes)) strings.push_back(&g.bytes);
        }
        std::string w;
        if (!words_.empty() && (strings.empty() || pick(2) == 0))
          w = words_[pick(words_.size())];
        else if (!strings.empty())
          w = *strings[pick(strings.size())];
        else
          return false;
        f.bytes = std::move(w);
        f.sub.reset();
        return true;
      }
      case 6: {  // bytes inside the field
        if (f.wire != 2) return false;
        std::string b = f.bytes;
        const std::size_t cap = std::min<std::size_t>(max_size, b.size() * 2 + 64);
        b.resize(cap);
        b.resize(LLVMFuzzerMutate(reinterpret_cast<std::uint8_t*>(b.data()), f.bytes.size(), cap));
        f.bytes = std::move(b);
        f.sub.reset();
        return true;
      }
      case 7: {  // nest the holding message into this sub-message field, several levels
        if (!f.sub) return false;
        const int room = kMaxProtoDepth - s.depth - proto_depth(*s.message) - 1;
        std::string once;
        write_proto(*s.message, once);
        if (room <= 0 || once.size() >= max_size) return false;
        const std::size_t levels = count(std::min<std::size_t>(static_cast<std::size_t>(room), max_size / once.size()));
        // Each level a shallow copy of the holding message (its other fields' sub-messages
        // shared: nothing changes them before this input is written) around the last.
        const std::vector<ProtoField> shape = s.message->fields;
        for (std::size_t i = 0; i < levels; ++i) {
          auto outer = std::make_shared<ProtoMessage>();
          outer->fields = shape;
          outer->fields[s.index].sub = f.sub;
          f.sub = std::move(outer);
        }
        return true;
      }
      case 8: {  // swap
        const std::size_t j = pick(s.message->fields.size());
        if (j == s.index) return false;
        std::swap(s.message->fields[s.index], s.message->fields[j]);
        return true;
      }
      default:
        return false;  // raw
    }
  }

  std::vector<std::string> words_;
  Dice dice_;
};

// libFuzzer's LLVMFuzzerCustomMutator for a target whose input is a TensorFlow protobuf (one
// mutator with tensorflow_words() per process).
inline std::size_t mutate_tensorflow_proto(std::uint8_t* data, std::size_t size, std::size_t max_size, unsigned seed) {
  static ProtoMutator mutator(tensorflow_words());
  return mutator.mutate(data, size, max_size, seed);
}

}  // namespace strata::fuzz
