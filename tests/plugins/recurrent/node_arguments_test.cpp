// Call arguments of the RNN layers in Functional nodes (issue 18): tf-keras nests an RNN's
// initial states in its node as the call nested them, Keras 3 gives them (and other layers'
// tensors) as keyword arguments. Reading tf-keras's and Keras 3's files is checked against
// real files by the interop fixtures (rnn_nested_initial_states; tests/data/keras3_nodes);
// here: what Strata writes for layers called from C++ (expected nodes are what tf-keras
// 2.17 and 2.21 wrote for the same calls) and the typed errors of malformed nodes.
#include <gtest/gtest.h>

#include <string>

#include "load_error.hpp"
#include "strata/error.hpp"
#include "strata/model.hpp"
#include "strata/registry.hpp"

namespace strata {
namespace {

Config cell(const char* cls, int units) { return Config{{"class_name", cls}, {"config", Config{{"units", units}}}}; }

Config stacked_rnn_config() {
  return Config{{"name", "rnn"}, {"cell", Config::array({cell("LSTMCell", 3), cell("GRUCell", 2)})}};
}

// The inbound nodes of the model's layer `name`.
std::string nodes_of(const Functional& model, const std::string& name) {
  std::string names;
  const Config config = model.get_config();
  for (const auto& l : config["layers"]) {
    if (l["name"] == name) return l["inbound_nodes"].dump();
    names += " " + l["name"].dump();
  }
  return "no layer " + name + " among" + names;
}

TEST(NodeArguments, StackedRnnCalledInCppWritesTheStatesNestedPerCellAsTfKeras) {
  const Tensor x = Input(Shape{4, 2}, "x");
  const Tensor h = Input(Shape{3}, "h0");
  const Tensor c = Input(Shape{3}, "c0");
  const Tensor g = Input(Shape{2}, "g0b");
  auto rnn = make_layer("RNN", stacked_rnn_config());
  const Functional model({x, h, c, g}, (*rnn)({x, h, c, g}), "m");
  // tf-keras for RNN([LSTMCell(3), GRUCell(2)])(x, initial_state=[[h, c], g]); the flat form
  // [x, h, c, g] is refused by tf-keras ("Layer has 2 states but was passed 3").
  EXPECT_EQ(nodes_of(model, "rnn"), R"([[["x",0,0,{}],[["h0",0,0,{}],["c0",0,0,{}]],["g0b",0,0,{}]]])");
  // and reads back to the same config
  EXPECT_EQ(model_config(*model_from_config(model_config(model))), model_config(model));
}

TEST(NodeArguments, LstmCalledInCppWritesItsStatesFlatAsTfKeras) {
  const Tensor x = Input(Shape{4, 2}, "x");
  const Tensor h = Input(Shape{3}, "h0");
  const Tensor c = Input(Shape{3}, "c0");
  auto lstm = make_layer("LSTM", Config{{"name", "lstm"}, {"units", 3}});
  const Functional model({x, h, c}, (*lstm)({x, h, c}), "m");
  EXPECT_EQ(nodes_of(model, "lstm"), R"([[["x",0,0,{}],["h0",0,0,{}],["c0",0,0,{}]]])");
}

TEST(NodeArguments, BidirectionalStackCalledInCppNestsEachDirectionsStates) {
  const Tensor x = Input(Shape{4, 2}, "x");
  std::vector<Tensor> in{x, Input(Shape{3}, "h0"), Input(Shape{3}, "c0"), Input(Shape{2}, "g0"),
                         Input(Shape{3}, "s2"),   Input(Shape{3}, "s3"), Input(Shape{2}, "g1")};
  auto bi = make_layer("Bidirectional", Config{{"name", "bi"},
                                               {"layer", Config{{"class_name", "RNN"}, {"config", stacked_rnn_config()}}}});
  const Functional model(in, (*bi)(in), "m");
  // tf-keras 2.17/2.21 for Bidirectional(RNN([LSTMCell, GRUCell]))(x, initial_state=[[h0, c0], g0, [s2, s3], g1])
  const std::string k = R"({"initial_state":null,"constants":null})";
  EXPECT_EQ(nodes_of(model, "bi"), "[[[\"x\",0,0," + k + "],[[\"h0\",0,0," + k + "],[\"c0\",0,0," + k + "]],[\"g0\",0,0," +
                                       k + "],[[\"s2\",0,0," + k + "],[\"s3\",0,0," + k + "]],[\"g1\",0,0," + k + "]]]");
}

// A model config (tf-keras's JSON envelope) of inputs x (4, 2), h and c (3,) and one layer
// `layer` (class and config as JSON text) with the inbound node `node`.
std::string model_json(const std::string& cls, const std::string& config, const std::string& node) {
  auto input = [](const char* name, const char* shape) {
    return std::string(R"({"class_name": "InputLayer", "config": {"batch_input_shape": )") + shape +
           R"(, "dtype": "float32", "name": ")" + name + R"("}, "name": ")" + name + R"(", "inbound_nodes": []})";
  };
  return std::string(R"({"class_name": "Functional", "config": {"name": "m", "layers": [)") + input("x", "[null, 4, 2]") +
         ", " + input("h", "[null, 3]") + ", " + input("c", "[null, 3]") + R"(, {"class_name": ")" + cls +
         R"(", "config": )" + config + R"(, "name": "l", "inbound_nodes": [)" + node +
         R"(]}], "input_layers": [["x", 0, 0], ["h", 0, 0], ["c", 0, 0]], "output_layers": [["l", 0, 0]]}})";
}

const std::string kLstm = R"({"name": "l", "units": 3})";

std::string keras3_tensor(const char* layer) {
  return std::string(R"({"class_name": "__keras_tensor__", "config": {"shape": [null, 3], "dtype": "float32", "keras_history": [")") +
         layer + R"(", 0, 0]}})";
}

TEST(NodeArguments, MalformedRnnNodesAreFormatErrorsNamingTheLayer) {
  // a mask given as a tensor (Keras 3 records the mask it passed) of the wrong shape
  std::string m = test::load_error<ShapeError>(
      model_json("LSTM", kLstm, R"([["x", 0, 0, {"mask": ["h", 0, 0]}]])"));
  EXPECT_NE(m.find("layer 'l'"), std::string::npos) << m;
  EXPECT_NE(m.find("the mask must have shape (batch, timesteps)"), std::string::npos) << m;
  // an argument an RNN does not take
  m = test::load_error<FormatError>(model_json("LSTM", kLstm, R"([["x", 0, 0, {"foo": 1}]])"));
  EXPECT_NE(m.find("layer 'l'"), std::string::npos) << m;
  EXPECT_NE(m.find("unknown call argument 'foo'"), std::string::npos) << m;
  // Keras 3: a mask tensor before the initial states
  m = test::load_error<FormatError>(model_json(
      "LSTM", kLstm,
      R"({"args": [)" + keras3_tensor("x") + R"(], "kwargs": {"mask": )" + keras3_tensor("h") +
          R"(, "initial_state": [)" + keras3_tensor("h") + ", " + keras3_tensor("c") + "]}}"));
  EXPECT_NE(m.find("layer 'l'"), std::string::npos) << m;
  EXPECT_NE(m.find("'mask'"), std::string::npos) << m;
  // Keras 3: more positional arguments than RNN.call has
  m = test::load_error<FormatError>(model_json(
      "LSTM", kLstm,
      R"({"args": [)" + keras3_tensor("x") + ", null, null, null, " + keras3_tensor("h") + R"(], "kwargs": {}})"));
  EXPECT_NE(m.find("layer 'l'"), std::string::npos) << m;
  EXPECT_NE(m.find("positional arguments"), std::string::npos) << m;
}

TEST(NodeArguments, Keras3TensorsALayerDoesNotTakeAreFormatErrorsNamingLayerAndArgument) {
  const std::string dense = R"({"name": "l", "units": 2})";
  std::string m = test::load_error<FormatError>(model_json(
      "Dense", dense, R"({"args": [)" + keras3_tensor("h") + R"(], "kwargs": {"extra": )" + keras3_tensor("c") + "}}"));
  EXPECT_NE(m.find("layer 'l'"), std::string::npos) << m;
  EXPECT_NE(m.find("'extra'"), std::string::npos) << m;
  m = test::load_error<FormatError>(model_json(
      "Dense", dense, R"({"args": [)" + keras3_tensor("h") + ", " + keras3_tensor("c") + R"(], "kwargs": {}})"));
  EXPECT_NE(m.find("layer 'l'"), std::string::npos) << m;
  EXPECT_NE(m.find("positional argument 2"), std::string::npos) << m;
}

TEST(NodeArguments, Keras3InitialStatesLoadAsTfKerasNodes) {
  // Keras 3's LSTM(x, initial_state=[h, c]) is tf-keras's [x, h, c]
  const auto model = model_from_json(model_json(
      "LSTM", kLstm,
      R"({"args": [)" + keras3_tensor("x") + R"(], "kwargs": {"initial_state": [)" + keras3_tensor("h") + ", " +
          keras3_tensor("c") + "]}}"));
  const Config config = model->get_config();
  for (const auto& l : config["layers"]) {
    if (l["name"] == "l") {
      EXPECT_EQ(l["inbound_nodes"].dump(), R"([[["x",0,0,{}],["h",0,0,{}],["c",0,0,{}]]])");
    }
  }
  // and positionally: Keras 3's RNN.call(sequences, initial_state)
  const auto positional = model_from_json(model_json(
      "LSTM", kLstm,
      R"({"args": [)" + keras3_tensor("x") + ", [" + keras3_tensor("h") + ", " + keras3_tensor("c") + R"(]], "kwargs": {}})"));
  EXPECT_EQ(model_config(*positional), model_config(*model));
}

}  // namespace
}  // namespace strata
