// The call arguments of the RNN layers (strata/plugin/call_arguments.hpp): tf-keras's
// initial_state nested in a node's first argument, Keras 3's initial_state keyword tensors.
//
// What the files hold (checked with tf-keras 2.17 and 2.21, Keras 3.15): tf-keras's
// RNN.__call__ turns `rnn(x, initial_state=s)` into the layer input [x, *s] and writes it as
// the node, so the nesting of `s` reaches the file: LSTM(x, [h, c]) gives
// [["x",0,0,{}], ["h",0,0,{}], ["c",0,0,{}]], RNN([LSTMCell, GRUCell])(x, [[h, c], [g]])
// gives [["x",0,0,{}], [["h",0,0,{}], ["c",0,0,{}]], [["g",0,0,{}]]]; a stack refuses the
// flat form ("Layer has 2 states but was passed 3 initial states"). Keras 3 writes
// {"args": [x], "kwargs": {"initial_state": [...]}} with the same nesting.
#include <algorithm>

#include "recurrent_internal.hpp"

namespace strata::recurrent {
namespace {

bool is_placeholder(const Config& v) { return v.is_object() && v.size() == 1 && v.contains("strata.tensor"); }

// True when `v` holds a tensor placeholder at any depth.
bool holds_tensor(const Config& v) { return layers::count_call_tensors(v) > 0; }

// Checks that the placeholders of `v`, depth first, are next, next + 1, ...
void expect_in_order(const Config& v, std::size_t& next, const std::string& subject, const Config& whole) {
  if (is_placeholder(v)) {
    STRATA_CHECK(v["strata.tensor"].is_number_unsigned() && v["strata.tensor"].get<std::size_t>() == next, FormatError,
                 subject, ": the call's tensors must be the sequence, then the initial states, then the 'mask' "
                 "(the order Strata reads them in), got ", whole.dump());
    ++next;
    return;
  }
  STRATA_CHECK(v.is_array(), FormatError, subject, ": the inputs hold ", v.dump(),
               ", neither a tensor nor a list of them");
  for (const auto& e : v) expect_in_order(e, next, subject, whole);
}

}  // namespace

void RecurrentLayer::set_call_arguments(const Config& arguments) {
  const std::string subject = ConfigReader::subject_of(*this);
  STRATA_CHECK(arguments.is_object() && arguments.contains("args") && arguments["args"].is_array() &&
                   !arguments["args"].empty() && (!arguments.contains("kwargs") || arguments["kwargs"].is_object()),
               FormatError, subject, ": call arguments must be {\"args\": [inputs], \"kwargs\": {...}}, got ",
               arguments.dump());
  // Keras 3's RNN.call(sequences, initial_state=None, mask=None, training=False).
  Config a = layers::positional_as_keywords(arguments, {"initial_state", "mask", "training"}, subject);
  Config& first = a["args"][0];
  if (!first.is_array()) first = Config::array({first});
  const Config given = a.value("kwargs", Config::object());
  Config kwargs = Config::object();
  for (const auto& [key, v] : given.items()) {
    if (key == "initial_state") {
      // tf-keras's form: the states follow the sequence in the first argument.
      if (v.is_array()) {
        for (const auto& s : v) first.push_back(s);
      } else if (!v.is_null()) {
        first.push_back(v);
      }
      continue;
    }
    if (key == "training") {
      STRATA_CHECK(v.is_null() || v.is_boolean(), FormatError, subject, ": the call argument 'training' must be true, "
                   "false or null, got ", v.dump());
    } else if (key == "mask" && is_placeholder(v)) {
      // Keras 3 writes the mask it passed (the input's keras mask, computed by op layers such as
      // NotEqual after Embedding(mask_zero=True)) as a tensor argument: the call's last input.
    } else if (key == "mask" || key == "constants") {
      STRATA_CHECK(!holds_tensor(v), FormatError, subject, ": the call argument '", key, "' given as a tensor is not ",
                   "supported", key == "mask" ? "; a mask must be one tensor" : " (RNN constants)");
    } else {
      STRATA_THROW(FormatError, subject, ": unknown call argument '", key, "' (", v.dump(),
                   "); an RNN layer takes its sequence, initial_state, mask and training");
    }
    kwargs[key] = v;
  }
  a["kwargs"] = kwargs;
  STRATA_CHECK(!first.empty() && is_placeholder(first[0]), FormatError, subject,
               ": the first input must be the sequence (one tensor), got ", first.dump());
  std::size_t next = 0;
  expect_in_order(first, next, subject, first);
  if (kwargs.contains("mask") && is_placeholder(kwargs["mask"])) {
    STRATA_CHECK(kwargs["mask"]["strata.tensor"] == next, FormatError, subject,
                 ": the mask tensor must follow the sequence and its states, got ", a.dump());
  }
  arguments_.set(a);
}

Config RecurrentLayer::state_placeholders(std::size_t first) const {
  auto tensor = [](std::size_t i) { return Config{{"strata.tensor", i}}; };
  Config out = Config::array();
  std::size_t i = first;
  if (!stack_) {
    for (int s = 0; s < num_states(); ++s) out.push_back(tensor(i++));
    return out;
  }
  for (const auto& cell : cells_) {
    if (cell->num_states() == 1) {
      out.push_back(tensor(i++));
      continue;
    }
    Config states = Config::array();
    for (int s = 0; s < cell->num_states(); ++s) states.push_back(tensor(i++));
    out.push_back(states);
  }
  return out;
}

namespace {

// A call on `inputs` tensors made from C++ (states flat in cell order), in tf-keras's form.
Config default_arguments(const RecurrentLayer& layer, std::size_t inputs) {
  Config first = Config::array({Config{{"strata.tensor", 0}}});
  if (inputs > 1) {
    const Config states = layer.state_placeholders(1);
    if (layers::count_call_tensors(states) + 1 == inputs) {
      for (const auto& s : states) first.push_back(s);
    } else {
      for (std::size_t i = 1; i < inputs; ++i) first.push_back(Config{{"strata.tensor", i}});
    }
  }
  return Config{{"args", Config::array({first})}, {"kwargs", Config::object()}};
}

}  // namespace

Config RecurrentLayer::take_call_arguments(const std::vector<Tensor>& inputs) const {
  return arguments_.for_call(*this, inputs, [this](std::size_t n) { return default_arguments(*this, n); });
}

bool RecurrentLayer::mask_is_last_input(const Config& arguments, std::size_t inputs) {
  if (inputs < 2 || !arguments.is_object() || !arguments.contains("kwargs") || !arguments["kwargs"].is_object() ||
      !arguments["kwargs"].contains("mask")) {
    return false;
  }
  const Config& mask = arguments["kwargs"]["mask"];
  return is_placeholder(mask) && mask["strata.tensor"] == inputs - 1;
}

bool RecurrentLayer::next_call_has_mask_input(std::size_t inputs) const {
  return mask_is_last_input(arguments_.peek(*this, inputs, [this](std::size_t n) { return default_arguments(*this, n); }),
                            inputs);
}

Config output_structure_of(const Config& placeholders) {
  if (is_placeholder(placeholders)) return placeholders["strata.tensor"];
  Config out = Config::array();
  for (const auto& e : placeholders) out.push_back(output_structure_of(e));
  return out;
}

Config RecurrentLayer::call_arguments() const {
  Config a = arguments_.latest([this] { return default_arguments(*this, std::max<std::size_t>(1, build_input_shapes().size())); });
  // tf-keras returns a stack's states nested per cell ([output, [h, c], g]), which its
  // summary prints: the outputs' structure (strata/plugin/call_arguments.hpp).
  if (return_state_ && stack_) {
    Config outputs = Config::array({0});
    for (const auto& s : output_structure_of(state_placeholders(1))) outputs.push_back(s);
    a["outputs"] = outputs;
  }
  return a;
}

}  // namespace strata::recurrent
