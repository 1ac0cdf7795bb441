// Keras's StackedRNNCells (tf-keras 2.21 layers/rnn/stacked_rnn_cells.py): a list of the
// built-in cells that behaves as one cell, as an RNN's cell (the RNN layer runs the cells,
// recurrent_rnn.cpp) and as a layer of its own called on (inputs, states).
#include "recurrent_internal.hpp"
#include "strata/graph.hpp"
#include "strata/serialization.hpp"

namespace strata::recurrent {
namespace {

std::vector<std::shared_ptr<RecurrentCell>> cells_of(const Config& config) {
  const std::string subject =
      "layer '" +
      (config.is_object() && config.contains("name") && config["name"].is_string() ? config["name"].get<std::string>()
                                                                                   : std::string("stacked_rnn_cells")) +
      "' (StackedRNNCells)";
  STRATA_CHECK(config.is_object() && config.contains("cells"), FormatError, subject, ": 'cells' is missing");
  const Config& list = config["cells"];
  STRATA_CHECK(list.is_array(), FormatError, subject, ": 'cells' must be a list of serialized cells, got ",
               list.dump());
  STRATA_CHECK(!list.empty(), ValueError, subject, ": the list of cells is empty");
  // tf-keras pops reverse_state_order (deprecated, never written by get_config).
  STRATA_CHECK(!config.contains("reverse_state_order") || !config["reverse_state_order"].is_boolean() ||
                   !config["reverse_state_order"].get<bool>(),
               ValueError, subject, ": reverse_state_order=True is not supported by Strata");
  std::vector<std::shared_ptr<RecurrentCell>> cells;
  for (std::size_t i = 0; i < list.size(); ++i) {
    auto [kind, cell_config] = parse_cell(list[i], subject + ": cell " + std::to_string(i));
    auto frame = ErrorContext::push("reading cell ", i, " of StackedRNNCells layer");
    cells.push_back(std::make_shared<RecurrentCell>(kind, cell_config));
  }
  return cells;
}

Config without_cells(const Config& config) {
  Config base = config;
  if (base.is_object()) {
    base.erase("cells");
    base.erase("reverse_state_order");
  }
  return base;
}

}  // namespace

StackedRNNCells::StackedRNNCells(const Config& base, std::vector<std::shared_ptr<RecurrentCell>> cells)
    : Layer("StackedRNNCells", base), cells_(std::move(cells)) {
  std::vector<std::shared_ptr<Layer>> tracked(cells_.begin(), cells_.end());
  track("cells", tracked);
}

StackedRNNCells::StackedRNNCells(const Config& config) : StackedRNNCells(without_cells(config), cells_of(config)) {
  standalone_ = true;
}

std::vector<std::int64_t> StackedRNNCells::state_units() const {
  std::vector<std::int64_t> out;
  for (const auto& cell : cells_) {
    for (int i = 0; i < cell->num_states(); ++i) out.push_back(cell->units());
  }
  return out;
}

void StackedRNNCells::build(const std::vector<Shape>& input_shapes) {
  STRATA_CHECK(!input_shapes.empty() && input_shapes[0].has_known_rank() && input_shapes[0].rank() >= 1 &&
                   input_shapes[0].dim(-1) > 0,
               ShapeError, "StackedRNNCells layer '", name(),
               "' needs step inputs with a known feature dimension, got ",
               input_shapes.empty() ? std::string("nothing") : input_shapes[0].to_string());
  NameScope scope(name());  // "stacked_rnn_cells/lstm_cell/kernel", as in Keras
  Shape step = input_shapes[0];
  for (const auto& cell : cells_) {
    cell->ensure_built({step});
    step = Shape{step.dim(0), cell->units()};
  }
}

std::vector<Tensor> StackedRNNCells::call(const std::vector<Tensor>& inputs, const CallContext& ctx) const {
  STRATA_CHECK(standalone_, ValueError, "StackedRNNCells '", name(),
               "' runs only inside its RNN layer; call the layer instead");
  const std::vector<std::int64_t> units = state_units();
  STRATA_CHECK(inputs.size() == 1 + units.size(), ValueError, "StackedRNNCells layer '", name(),
               "' takes the step inputs and its ", units.size(), " state(s) (every cell's, in cell order); got ",
               inputs.size(), " inputs");
  STRATA_CHECK(inputs[0].shape().has_known_rank() && inputs[0].shape().rank() == 2, ShapeError,
               "StackedRNNCells layer '", name(), "' expects step inputs of rank 2 (batch, features), got ",
               inputs[0].shape().to_string());
  // Each cell runs as a layer of its own on (previous output, its states), as tf-keras
  // calls cell(inputs, states): its checks, dropout and step are the cell's.
  Tensor output = inputs[0];
  std::vector<Tensor> states;
  std::size_t offset = 1;
  for (const auto& cell : cells_) {
    const auto n = static_cast<std::size_t>(cell->num_states());
    std::vector<Tensor> args{output};
    args.insert(args.end(), inputs.begin() + static_cast<std::ptrdiff_t>(offset),
                inputs.begin() + static_cast<std::ptrdiff_t>(offset + n));
    const std::vector<Tensor> out = cell->call(args, ctx);
    output = out[0];
    states.insert(states.end(), out.begin() + 1, out.end());
    offset += n;
  }
  std::vector<Tensor> result{output};
  result.insert(result.end(), states.begin(), states.end());
  return result;
}

Config StackedRNNCells::get_config() const {
  Config c = Layer::get_config();
  Config cells = Config::array();
  for (const auto& cell : cells_) cells.push_back(serialized_cell(*cell));
  c["cells"] = cells;
  return c;
}

void StackedRNNCells::set_call_arguments(const Config& given) {
  const std::string subject = "StackedRNNCells layer '" + name() + "'";
  STRATA_CHECK(given.is_object() && given.contains("args") && given["args"].is_array() && !given["args"].empty() &&
                   given.contains("kwargs") && given["kwargs"].is_object(),
               FormatError, subject, ": call arguments must be {\"args\": [inputs], \"kwargs\": {...}}, got ",
               given.dump());
  // A Keras 3 node: stack(inputs, states, training) may pass the states by position.
  const Config arguments = layers::positional_as_keywords(given, {"states", "training"}, subject);
  for (auto it = arguments["kwargs"].begin(); it != arguments["kwargs"].end(); ++it) {
    STRATA_CHECK(it.key() == "states" || it.key() == "training", FormatError, subject, " is called with the argument '",
                 it.key(), "'; StackedRNNCells takes its inputs and 'states' (constants are not supported)");
  }
  call_arguments_ = arguments;
}

Config StackedRNNCells::call_arguments() const {
  // The states nested as tf-keras's state_size: one element per cell, a list [h, c] for an
  // LSTMCell, the bare tensor for a one-state cell.
  Config states = Config::array();
  Config outputs_states = Config::array();
  int index = 1;
  for (const auto& cell : cells_) {
    if (cell->num_states() == 1) {
      states.push_back(Config{{"strata.tensor", index}});
      outputs_states.push_back(index);
      ++index;
      continue;
    }
    Config own = Config::array();
    Config own_out = Config::array();
    for (int i = 0; i < cell->num_states(); ++i, ++index) {
      own.push_back(Config{{"strata.tensor", index}});
      own_out.push_back(index);
    }
    states.push_back(own);
    outputs_states.push_back(own_out);
  }
  Config a = call_arguments_;
  if (a.is_null()) {
    // Called in C++ on [x, *states]: tf-keras's form of stack(x, states=[...]).
    a = Config{{"args", Config::array({Config::array({Config{{"strata.tensor", 0}}})})},
               {"kwargs", Config{{"states", states}}}};
  }
  // tf-keras returns (output, states) with the states packed as state_size (a tuple).
  a["outputs"] = Config{{"tuple", Config::array({0, Config{{"tuple", outputs_states}}})}};
  return a;
}

}  // namespace strata::recurrent
