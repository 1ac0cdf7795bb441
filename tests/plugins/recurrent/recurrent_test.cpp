// Embedding, Masking, SimpleRNN, LSTM and GRU of the layers plugin against tf-keras
// 2.17: configs (keys and order as an H5 model_config holds them), weights, outputs with
// fixed weights (masks, go_backwards, initial states, states), gradients through the
// recurrence, Functional models with an unknown number of timesteps, dropout.
//
// Oracle: every k* value below was computed by tf-keras 2.17 in the interop venv with
// tests/plugins/recurrent/make_expected.py, which builds the same weights and inputs
// from pattern(n, seed, scale) (recomputed here) and prints these literals:
//   TF_USE_LEGACY_KERAS=1 TF_CPP_MIN_LOG_LEVEL=3 <interop-venv>/bin/python make_expected.py
// (<interop-venv> = /root/.cache/strata/interop-venv).
// The gradient check in float64 compares the tape with central differences instead.
#include <gtest/gtest.h>

#include <cmath>
#include <optional>

#include "recurrent_test_util.hpp"
#include "strata/gradient_tape.hpp"
#include "strata/graph.hpp"
#include "strata/layer.hpp"
#include "strata/model.hpp"
#include "strata/ops.hpp"
#include "strata/plugin/kernel.hpp"
#include "strata/registry.hpp"

namespace strata {
namespace {

namespace expected {
// clang-format off
// LstmSeq [2, 4, 3]
const std::vector<float> kLstmSeq = {-0.0801608041, -0.0429146625, 0.0834358484, -0.0538558438, -0.0759899691, 0.14692983, 0.0475402661, -0.0963431969, 0.175641015, 0.0744678974, -0.0662581399, 0.0468423069, 0.115297072, -0.018021306, -0.0777164921, -0.0148549704, -0.0503627434, 0.0473555811, 0.0134970453, -0.0802831054, 0.122219898, 0.0208343584, -0.0324280448, 0.0188026577};
// LstmH [2, 3]
const std::vector<float> kLstmH = {0.0744678974, -0.0662581399, 0.0468423069, 0.0208343584, -0.0324280448, 0.0188026577};
// LstmC [2, 3]
const std::vector<float> kLstmC = {0.138040528, -0.142000169, 0.0835054219, 0.0398555771, -0.0630836785, 0.0364907458};
// LstmBackSeq [2, 4, 3]
const std::vector<float> kLstmBackSeq = {0.0474899039, 0.0086017549, -0.0737421662, 0.0865661502, -0.0659457445, 0.0567304045, 0.0332574733, -0.0859685913, 0.114452928, -0.0569124073, -0.0814417303, 0.141113579, 0.0093117021, 0.0254368074, -0.0704738423, 0.0176359918, -0.056778986, 0.0536429696, -0.0441649854, -0.0742708072, 0.112605847, 0.0973771363, -0.0558955818, 0.0232992694};
// LstmInitOut [2, 3]
const std::vector<float> kLstmInitOut = {0.0874150619, -0.056774959, 0.0174035691, 0.0351596884, -0.0414453894, 0.0512388311};
// LstmInitH [2, 3]
const std::vector<float> kLstmInitH = {0.0874150619, -0.056774959, 0.0174035691, 0.0351596884, -0.0414453894, 0.0512388311};
// LstmInitC [2, 3]
const std::vector<float> kLstmInitC = {0.16171135, -0.120479196, 0.0312264413, 0.0668573231, -0.0812737495, 0.0996633172};
// GruSeq [2, 4, 3]
const std::vector<float> kGruSeq = {0.155353412, 0.102897592, -0.150389284, 0.115652233, 0.108400196, -0.248014987, -0.0175837204, 0.0788190961, -0.312214375, 0.241861463, -0.132451013, -0.0274791494, 0.152066663, -0.229498431, 0.121313989, 0.152311757, -0.0678327829, -0.083751604, 0.0545592383, -0.0235808585, -0.212019593, 0.312597573, -0.167424351, 0.0341325849};
// GruH [2, 3]
const std::vector<float> kGruH = {0.241861463, -0.132451013, -0.0274791494, 0.312597573, -0.167424351, 0.0341325849};
// GruBeforeBackInitSeq [2, 4, 3]
const std::vector<float> kGruBeforeBackInitSeq = {0.173662558, -0.376991689, 0.164561123, -0.0380278677, -0.21467346, -0.0897546709, -0.0026959125, -0.0261831656, -0.205123395, 0.175346717, 0.151249573, -0.266814262, 0.218734533, 0.106665432, 0.0145063419, 0.101778515, 0.134872526, -0.176467523, 0.184201449, 0.21617797, -0.262616634, 0.300312728, -0.0386420786, -0.0577554293};
// SrnnSeq [2, 4, 3]
const std::vector<float> kSrnnSeq = {0.0520191006, 0.140388951, 0.00247933925, 0.201385096, 0.0186707471, -0.0804712102, 0.374202579, -0.122265123, -0.100453593, -0.0578750521, -0.0677753165, 0.720647335, 0.210049495, -0.318297952, 0.66403687, 0.415431678, 0.109780289, -0.167594388, 0.167329282, 0.0596715398, -0.0514653027, -0.183905959, -0.0015490487, 0.718948901};
// SrnnH [2, 3]
const std::vector<float> kSrnnH = {-0.0578750521, -0.0677753165, 0.720647335, -0.183905959, -0.0015490487, 0.718948901};
// SrnnBackInitOut [2, 3]
const std::vector<float> kSrnnBackInitOut = {0.0026239315, 0.195052192, -0.0318902098, 0.169520587, -0.284597874, 0.632228434};
// EmbOut [3, 5, 2]
const std::vector<float> kEmbOut = {-0.0727272704, -0.727272749, 0.290909082, -0.363636374, 0.654545426, 0, -0.436363637, 0.581818163, -0.436363637, 0.581818163, -0.436363637, 0.581818163, -0.436363637, 0.581818163, -0.654545426, 0.363636374, -0.290909082, 0.727272749, -0.0727272704, -0.727272749, 0.290909082, -0.363636374, -0.436363637, 0.581818163, -0.436363637, 0.581818163, 0.654545426, 0, -0.436363637, 0.581818163};
// EmbLstmSeq [3, 5, 3]
const std::vector<float> kEmbLstmSeq = {-0.0723704621, -0.0396792814, 0.0770544857, -0.0543920211, -0.0701310188, 0.135199934, 0.0223676935, -0.0905984938, 0.164878041, 0.0223676935, -0.0905984938, 0.164878041, 0.0223676935, -0.0905984938, 0.164878041, 0, 0, 0, 0, 0, 0, 0.031323038, 0.0010647187, -0.0472040102, 0.0977469608, -0.0159971248, -0.0852316916, -0.0378890187, -0.0398767442, 0.0317812748, -0.0202373825, -0.0535962395, 0.0827030092, -0.0202373825, -0.0535962395, 0.0827030092, -0.0202373825, -0.0535962395, 0.0827030092, 0.0385200046, -0.0833716244, 0.134829208, 0.0385200046, -0.0833716244, 0.134829208};
// EmbLstmKernelGrad [2, 12]
const std::vector<float> kEmbLstmKernelGrad = {0.0274897199, -0.131156355, 0.30717814, -0.0520103797, -0.0463879369, 0.123236418, 1.10834861, 0.378722608, 0.34000659, 0.0166102052, -0.221070454, 0.306428015, 0.142575473, 0.0912730843, -0.288528323, 0.0110913329, 0.00932410732, -0.0253349729, -0.904851973, -0.330037028, -0.379718721, 0.0921820551, 0.070970282, -0.169106528};
// EmbLstmOut [3, 3]
const std::vector<float> kEmbLstmOut = {0.0223676935, -0.0905984938, 0.164878041, -0.0378890187, -0.0398767442, 0.0317812748, 0.0385200046, -0.0833716244, 0.134829208};
// EmbLstmH [3, 3]
const std::vector<float> kEmbLstmH = {0.0223676935, -0.0905984938, 0.164878041, -0.0378890187, -0.0398767442, 0.0317812748, 0.0385200046, -0.0833716244, 0.134829208};
// EmbLstmC [3, 3]
const std::vector<float> kEmbLstmC = {0.0467259809, -0.272288561, 0.302340001, -0.0850070417, -0.0861456096, 0.0766487122, 0.0802934915, -0.245998785, 0.247225642};
// EmbLstmBackSeq [3, 5, 3]
const std::vector<float> kEmbLstmBackSeq = {0, 0, 0, 0, 0, 0, 0.0440389439, -0.0647160262, 0.087121807, 0.0074715619, -0.0813018829, 0.125017554, -0.0610938072, -0.0765747875, 0.144512698, -0.0723704621, -0.0396792814, 0.0770544857, 0.0543708652, -0.0407326557, 0.0229029302, 0.0528944694, -0.0173943304, -0.0350411125, 0.0528944694, -0.0173943304, -0.0350411125, 0.0528944694, -0.0173943304, -0.0350411125, 0, 0, 0, 0.0440389439, -0.0647160262, 0.087121807, 0.0440389439, -0.0647160262, 0.087121807, 0.0440389439, -0.0647160262, 0.087121807, 0.0074715619, -0.0813018829, 0.125017568};
// MaskInput [3, 5, 2]
const std::vector<float> kMaskInput = {0.454545468, -0.363636374, 0, 0.0909090936, -0.727272749, 0.545454562, 0, 0, 0, 0, 0, 0, 0, 0, -0.545454562, 0.727272749, -0.0909090936, -0.909090936, 0.363636374, -0.454545468, 0.818181813, 0, -0.818181813, 0.454545468, 0, 0, 0.0909090936, -0.727272749, 0.545454562, -0.272727281};
// MaskingOut [3, 5, 2]
const std::vector<float> kMaskingOut = {0.454545468, -0.363636374, 0, 0.0909090936, -0.727272749, 0.545454562, 0, 0, 0, 0, 0, 0, 0, 0, -0.545454562, 0.727272749, -0.0909090936, -0.909090936, 0.363636374, -0.454545468, 0.818181813, 0, -0.818181813, 0.454545468, 0, 0, 0.0909090936, -0.727272749, 0.545454562, -0.272727281};
// mask [[1, 1, 1, 0, 0], [0, 0, 1, 1, 1], [1, 1, 0, 1, 1]]
// MaskGruSeq [3, 5, 3]
const std::vector<float> kMaskGruSeq = {0.0324007161, 0.043680612, -0.171193957, 0.156314641, -0.0162103027, -0.146576256, 0.323461443, -0.204136074, 0.0771191567, 0.323461443, -0.204136074, 0.0771191567, 0.323461443, -0.204136074, 0.0771191567, 0, 0, 0, 0, 0, 0, 0.200734317, -0.211895749, 0.123867236, 0.244797021, -0.0160589367, -0.0694642738, 0.171967864, 0.034200076, -0.195350394, -0.0606306084, 0.00421279436, -0.188610569, 0.223300487, -0.168220937, 0.0333800316, 0.223300487, -0.168220937, 0.0333800316, 0.215603083, -0.0191012993, -0.125076115, 0.112193272, 0.0162557159, -0.229799241};
// MaskGruBackOut [3, 3]
const std::vector<float> kMaskGruBackOut = {0.131315812, -0.083067596, -0.144765884, 0.341952145, -0.125267446, 0.0258450359, 0.112541303, -0.0937957317, -0.165136963};
// MaskGruBackH [3, 3]
const std::vector<float> kMaskGruBackH = {0.131315812, -0.083067596, -0.144765884, 0.341952145, -0.125267446, 0.0258450359, 0.112541303, -0.0937957317, -0.165136963};
// MaskSrnnZeroSeq [3, 5, 3]
const std::vector<float> kMaskSrnnZeroSeq = {0.253058314, -0.023962345, -0.0594339855, 0.115731418, -0.0303012207, 0.339770645, 0.118480109, -0.119172052, 0.645501733, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.089019917, -0.226577222, 0.684317946, 0.307293326, 0.185045794, -0.15009886, 0.046308849, 0.13697964, -0.0303487293, 0.400267035, -0.154940322, -0.108660176, -0.0959950909, -0.0325192623, 0.729906619, 0, 0, 0, 0.368689239, 0.0971697941, -0.214156613, 0.122668535, 0.0733846873, -0.0237300415};
// FunctionalT3 [2, 2]
const std::vector<float> kFunctionalT3 = {-0.102824345, 0.0253972188, -0.138021544, 0.0378751718};
// FunctionalT5 [2, 2]
const std::vector<float> kFunctionalT5 = {-0.15851289, 0.0471629687, -0.142072767, 0.0388515182};
// lstm inbound_nodes: [[["seq", 0, 0, {}]]]
const char* kConfig_lstm = R"json({"class_name": "LSTM", "config": {"name": "lstm", "trainable": true, "dtype": "float32", "return_sequences": false, "return_state": false, "go_backwards": false, "stateful": false, "unroll": false, "time_major": false, "units": 4, "activation": "tanh", "recurrent_activation": "sigmoid", "use_bias": true, "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": null}, "registered_name": null}, "recurrent_initializer": {"module": "keras.initializers", "class_name": "Orthogonal", "config": {"gain": 1.0, "seed": null}, "registered_name": null}, "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": null}, "unit_forget_bias": true, "kernel_regularizer": null, "recurrent_regularizer": null, "bias_regularizer": null, "activity_regularizer": null, "kernel_constraint": null, "recurrent_constraint": null, "bias_constraint": null, "dropout": 0.0, "recurrent_dropout": 0.0, "implementation": 2}})json";
// lstm_init inbound_nodes: [[["seq", 0, 0, {}], ["h0", 0, 0, {}], ["c0", 0, 0, {}]]]
const char* kConfig_lstm_init = R"json({"class_name": "LSTM", "config": {"name": "lstm_init", "trainable": true, "dtype": "float32", "return_sequences": false, "return_state": true, "go_backwards": false, "stateful": false, "unroll": false, "time_major": false, "units": 4, "activation": "tanh", "recurrent_activation": "sigmoid", "use_bias": true, "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": null}, "registered_name": null}, "recurrent_initializer": {"module": "keras.initializers", "class_name": "Orthogonal", "config": {"gain": 1.0, "seed": null}, "registered_name": null}, "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": null}, "unit_forget_bias": true, "kernel_regularizer": null, "recurrent_regularizer": null, "bias_regularizer": null, "activity_regularizer": null, "kernel_constraint": null, "recurrent_constraint": null, "bias_constraint": null, "dropout": 0.0, "recurrent_dropout": 0.0, "implementation": 2}})json";
// lstm_custom inbound_nodes: [[["fixed", 0, 0, {}]]]
const char* kConfig_lstm_custom = R"json({"class_name": "LSTM", "config": {"name": "lstm_custom", "trainable": true, "dtype": "float32", "return_sequences": true, "return_state": false, "go_backwards": true, "stateful": false, "unroll": true, "time_major": false, "units": 4, "activation": "relu", "recurrent_activation": "sigmoid", "use_bias": true, "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": null}, "registered_name": null}, "recurrent_initializer": {"module": "keras.initializers", "class_name": "Orthogonal", "config": {"gain": 1.0, "seed": null}, "registered_name": null}, "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": null}, "unit_forget_bias": false, "kernel_regularizer": {"module": "keras.regularizers", "class_name": "L2", "config": {"l2": 0.009999999776482582}, "registered_name": null}, "recurrent_regularizer": null, "bias_regularizer": null, "activity_regularizer": null, "kernel_constraint": null, "recurrent_constraint": null, "bias_constraint": null, "dropout": 0.1, "recurrent_dropout": 0.25, "implementation": 1}})json";
// gru inbound_nodes: [[["seq", 0, 0, {}]]]
const char* kConfig_gru = R"json({"class_name": "GRU", "config": {"name": "gru", "trainable": true, "dtype": "float32", "return_sequences": false, "return_state": false, "go_backwards": false, "stateful": false, "unroll": false, "time_major": false, "units": 4, "activation": "tanh", "recurrent_activation": "sigmoid", "use_bias": true, "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": null}, "registered_name": null}, "recurrent_initializer": {"module": "keras.initializers", "class_name": "Orthogonal", "config": {"gain": 1.0, "seed": null}, "registered_name": null}, "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": null}, "kernel_regularizer": null, "recurrent_regularizer": null, "bias_regularizer": null, "activity_regularizer": null, "kernel_constraint": null, "recurrent_constraint": null, "bias_constraint": null, "dropout": 0.0, "recurrent_dropout": 0.0, "implementation": 2, "reset_after": true}})json";
// gru_before inbound_nodes: [[["seq", 0, 0, {}]]]
const char* kConfig_gru_before = R"json({"class_name": "GRU", "config": {"name": "gru_before", "trainable": true, "dtype": "float32", "return_sequences": false, "return_state": false, "go_backwards": false, "stateful": false, "unroll": false, "time_major": false, "units": 4, "activation": "tanh", "recurrent_activation": "hard_sigmoid", "use_bias": false, "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": null}, "registered_name": null}, "recurrent_initializer": {"module": "keras.initializers", "class_name": "Orthogonal", "config": {"gain": 1.0, "seed": null}, "registered_name": null}, "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": null}, "kernel_regularizer": null, "recurrent_regularizer": null, "bias_regularizer": null, "activity_regularizer": null, "kernel_constraint": null, "recurrent_constraint": null, "bias_constraint": null, "dropout": 0.0, "recurrent_dropout": 0.0, "implementation": 1, "reset_after": false}})json";
// simple_rnn inbound_nodes: [[["seq", 0, 0, {}]]]
const char* kConfig_simple_rnn = R"json({"class_name": "SimpleRNN", "config": {"name": "simple_rnn", "trainable": true, "dtype": "float32", "return_sequences": false, "return_state": false, "go_backwards": false, "stateful": false, "unroll": false, "time_major": false, "units": 4, "activation": "tanh", "use_bias": true, "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": null}, "registered_name": null}, "recurrent_initializer": {"module": "keras.initializers", "class_name": "Orthogonal", "config": {"gain": 1.0, "seed": null}, "registered_name": null}, "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": null}, "kernel_regularizer": null, "recurrent_regularizer": null, "bias_regularizer": null, "activity_regularizer": null, "kernel_constraint": null, "recurrent_constraint": null, "bias_constraint": null, "dropout": 0.0, "recurrent_dropout": 0.0}})json";
// simple_rnn_shaped inbound_nodes: [[["seq", 0, 0, {}]]]
const char* kConfig_simple_rnn_shaped = R"json({"class_name": "SimpleRNN", "config": {"name": "simple_rnn_shaped", "trainable": true, "dtype": "float32", "batch_input_shape": [null, null, 3], "return_sequences": false, "return_state": false, "go_backwards": false, "stateful": false, "unroll": false, "time_major": false, "units": 4, "activation": "relu", "use_bias": true, "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": null}, "registered_name": null}, "recurrent_initializer": {"module": "keras.initializers", "class_name": "Orthogonal", "config": {"gain": 1.0, "seed": null}, "registered_name": null}, "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": null}, "kernel_regularizer": null, "recurrent_regularizer": null, "bias_regularizer": null, "activity_regularizer": null, "kernel_constraint": null, "recurrent_constraint": null, "bias_constraint": null, "dropout": 0.0, "recurrent_dropout": 0.0}})json";
// embedding inbound_nodes: [[["ids", 0, 0, {}]]]
const char* kConfig_embedding = R"json({"class_name": "Embedding", "config": {"name": "embedding", "trainable": true, "dtype": "float32", "batch_input_shape": [null, null], "input_dim": 10, "output_dim": 3, "embeddings_initializer": {"module": "keras.initializers", "class_name": "RandomUniform", "config": {"minval": -0.05, "maxval": 0.05, "seed": null}, "registered_name": null}, "embeddings_regularizer": null, "activity_regularizer": null, "embeddings_constraint": null, "mask_zero": false, "input_length": null}})json";
// embedding_masked inbound_nodes: [[["ids", 0, 0, {}]]]
const char* kConfig_embedding_masked = R"json({"class_name": "Embedding", "config": {"name": "embedding_masked", "trainable": true, "dtype": "float32", "batch_input_shape": [null, 5], "input_dim": 10, "output_dim": 3, "embeddings_initializer": {"module": "keras.initializers", "class_name": "RandomUniform", "config": {"minval": -0.05, "maxval": 0.05, "seed": null}, "registered_name": null}, "embeddings_regularizer": null, "activity_regularizer": null, "embeddings_constraint": null, "mask_zero": true, "input_length": 5}})json";
// masking inbound_nodes: [[["seq", 0, 0, {}]]]
const char* kConfig_masking = R"json({"class_name": "Masking", "config": {"name": "masking", "trainable": true, "dtype": "float32", "mask_value": -1.0}})json";
// weights lstm: [('lstm/lstm_cell/kernel:0', [3, 16]), ('lstm/lstm_cell/recurrent_kernel:0', [4, 16]), ('lstm/lstm_cell/bias:0', [16])]
// weights gru: [('gru/gru_cell/kernel:0', [3, 12]), ('gru/gru_cell/recurrent_kernel:0', [4, 12]), ('gru/gru_cell/bias:0', [2, 12])]
// weights gru_before: [('gru_before/gru_cell/kernel:0', [3, 12]), ('gru_before/gru_cell/recurrent_kernel:0', [4, 12])]
// weights simple_rnn: [('simple_rnn/simple_rnn_cell/kernel:0', [3, 4]), ('simple_rnn/simple_rnn_cell/recurrent_kernel:0', [4, 4]), ('simple_rnn/simple_rnn_cell/bias:0', [4])]
// weights embedding: [('embedding/embeddings:0', [10, 3])]
// clang-format on
}  // namespace expected

// The inputs and weights of make_expected.py: scale * (((i*37 + seed*11) mod 23) - 11) / 11.
std::vector<float> pattern(std::size_t n, int seed, double scale) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) {
    const long long k = (static_cast<long long>(i) * 37 + seed * 11) % 23 - 11;
    v[i] = static_cast<float>(scale * static_cast<double>(k) / 11.0);
  }
  return v;
}

Tensor arr(const Shape& shape, int seed, double scale) {
  return Tensor::from_vector<float>(pattern(static_cast<std::size_t>(shape.num_elements()), seed, scale), shape);
}

std::vector<Tensor> lstm_weights() { return {arr({2, 12}, 2, 0.5), arr({3, 12}, 3, 0.4), arr({12}, 4, 0.3)}; }
std::vector<Tensor> gru_weights() { return {arr({2, 9}, 7, 0.5), arr({3, 9}, 8, 0.4), arr({2, 9}, 9, 0.3)}; }
std::vector<Tensor> gru_weights_before() { return {arr({2, 9}, 7, 0.5), arr({3, 9}, 8, 0.4), arr({9}, 9, 0.3)}; }
std::vector<Tensor> srnn_weights() { return {arr({2, 3}, 10, 0.5), arr({3, 3}, 11, 0.4), arr({3}, 12, 0.3)}; }
Tensor x_input() { return arr({2, 4, 2}, 1, 1.0); }
Tensor h0_input() { return arr({2, 3}, 5, 0.5); }
Tensor c0_input() { return arr({2, 3}, 6, 0.5); }

// |got - want| <= atol + rtol * |want| element by element, and the shape.
void expect_close(const Tensor& got, const std::vector<float>& want, const Shape& shape, double atol = 2e-6,
                  double rtol = 1e-5) {
  ASSERT_TRUE(got.defined());
  ASSERT_EQ(got.shape(), shape) << got.shape().to_string();
  const auto values = got.dtype() == DType::kFloat32 ? got.to_vector<float>() : std::vector<float>{};
  ASSERT_EQ(values.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_LE(std::abs(static_cast<double>(values[i]) - want[i]), atol + rtol * std::abs(static_cast<double>(want[i])))
        << "element " << i << ": got " << values[i] << ", want " << want[i];
  }
}

void expect_same(const Tensor& a, const Tensor& b, double atol = 1e-6) {
  ASSERT_EQ(a.shape(), b.shape());
  const auto va = a.to_vector<float>(), vb = b.to_vector<float>();
  for (std::size_t i = 0; i < va.size(); ++i) EXPECT_NEAR(va[i], vb[i], atol) << "element " << i;
}

std::vector<Shape> shapes_of(const std::vector<Tensor>& ts) {
  std::vector<Shape> out;
  for (const auto& t : ts) out.push_back(t.shape());
  return out;
}

// A layer of class `cls` built for `inputs`, with `weights` set.
std::shared_ptr<Layer> made(const char* cls, const Config& config, const std::vector<Tensor>& inputs,
                            const std::vector<Tensor>& weights) {
  auto layer = make_layer(cls, config);
  layer->ensure_built(shapes_of(inputs));
  layer->set_weights(weights);
  return layer;
}

Tensor mask_of(const std::vector<std::vector<int>>& rows) {
  std::vector<std::uint8_t> bytes;
  for (const auto& r : rows) {
    for (int v : r) bytes.push_back(static_cast<std::uint8_t>(v));
  }
  return Tensor::from_bools(bytes, Shape{static_cast<std::int64_t>(rows.size()), static_cast<std::int64_t>(rows[0].size())});
}

std::vector<int> bools(const Tensor& t) {
  std::vector<int> out;
  for (auto v : cast(t, DType::kInt32).to_vector<std::int32_t>()) out.push_back(v);
  return out;
}

class RecurrentTest : public recurrent_tests::OnEachDevice {};

// ---- configs --------------------------------------------------------------------------------

struct ConfigCase {
  const char* keras;    // the layer entry tf-keras wrote
  const char* minimal;  // the arguments given to tf-keras's constructor
};

std::vector<ConfigCase> config_cases() {
  return {
      {expected::kConfig_lstm, R"({"name": "lstm", "units": 4})"},
      {expected::kConfig_lstm_init, R"({"name": "lstm_init", "units": 4, "return_state": true})"},
      {expected::kConfig_lstm_custom,
       R"({"name": "lstm_custom", "units": 4, "return_sequences": true, "go_backwards": true, "dropout": 0.1,
           "recurrent_dropout": 0.25, "unit_forget_bias": false, "activation": "relu",
           "kernel_regularizer": {"class_name": "L2", "config": {"l2": 0.01}}, "unroll": true})"},
      {expected::kConfig_gru, R"({"name": "gru", "units": 4})"},
      {expected::kConfig_gru_before,
       R"({"name": "gru_before", "units": 4, "reset_after": false, "implementation": 1, "use_bias": false,
           "recurrent_activation": "hard_sigmoid"})"},
      {expected::kConfig_simple_rnn, R"({"name": "simple_rnn", "units": 4})"},
      {expected::kConfig_simple_rnn_shaped,
       R"({"name": "simple_rnn_shaped", "units": 4, "activation": "relu", "input_shape": [null, 3]})"},
      {expected::kConfig_embedding, R"({"name": "embedding", "input_dim": 10, "output_dim": 3})"},
      {expected::kConfig_embedding_masked,
       R"({"name": "embedding_masked", "input_dim": 10, "output_dim": 3, "mask_zero": true, "input_length": 5})"},
      {expected::kConfig_masking, R"({"name": "masking", "mask_value": -1.0})"},
  };
}

TEST_P(RecurrentTest, ConfigsAreTfKerasConfigsKeyForKey) {
  for (const auto& c : config_cases()) {
    const Config keras = Config::parse(c.keras);
    const std::string cls = keras["class_name"].get<std::string>();
    SCOPED_TRACE(keras["config"]["name"].get<std::string>());
    // Written from the same arguments tf-keras was given: its defaults, keys and order.
    auto layer = make_layer(cls, Config::parse(c.minimal));
    EXPECT_EQ(layer->class_name(), cls);
    EXPECT_EQ(layer->get_config().dump(), keras["config"].dump());
    // Read back from tf-keras's own config.
    auto reread = make_layer(cls, keras["config"]);
    EXPECT_EQ(reread->get_config().dump(), keras["config"].dump());
    EXPECT_EQ(serialize_layer(*reread)["class_name"], keras["class_name"]);
  }
}

TEST_P(RecurrentTest, DefaultNamesAreKerasNames) {
  EXPECT_EQ(make_layer("LSTM", Config{{"units", 2}})->name(), "lstm");
  EXPECT_EQ(make_layer("LSTM", Config{{"units", 2}})->name(), "lstm_1");
  EXPECT_EQ(make_layer("SimpleRNN", Config{{"units", 2}})->name(), "simple_rnn");
  EXPECT_EQ(make_layer("GRU", Config{{"units", 2}})->name(), "gru");
  EXPECT_EQ(make_layer("Embedding", Config{{"input_dim", 3}, {"output_dim", 2}})->name(), "embedding");
  EXPECT_EQ(make_layer("Masking")->name(), "masking");
}

TEST_P(RecurrentTest, ImplementationFollowsKerasRules) {
  // from_config maps the deprecated 0 to 1; recurrent dropout forces 1.
  EXPECT_EQ(make_layer("LSTM", Config{{"units", 2}, {"implementation", 0}})->get_config()["implementation"], 1);
  EXPECT_EQ(make_layer("GRU", Config{{"units", 2}, {"recurrent_dropout", 0.5}})->get_config()["implementation"], 1);
  EXPECT_EQ(make_layer("GRU", Config{{"units", 2}, {"dropout", 1.5}})->get_config()["dropout"], 1.0);
  const Config z = make_layer("LSTM", Config{{"units", 2}, {"zero_output_for_mask", true}})->get_config();
  ASSERT_TRUE(z.contains("zero_output_for_mask"));
  EXPECT_EQ(std::next(z.find("time_major")).key(), "zero_output_for_mask");
}

TEST_P(RecurrentTest, RefusesWhatStrataDoesNotSupport) {
  // stateful needs a fixed batch size (recurrent_state_test.cpp runs it)
  EXPECT_THROW(make_layer("LSTM", Config{{"units", 2}, {"stateful", true}})->ensure_built({Shape{Shape::kUnknown, 3, 2}}),
               ValueError);
  EXPECT_THROW(make_layer("GRU", Config{{"units", 2}, {"time_major", true}}), ValueError);
  EXPECT_THROW(make_layer("SimpleRNN", Config{{"units", 0}}), ValueError);
  EXPECT_THROW(make_layer("LSTM", Config::object()), FormatError);
  EXPECT_THROW(make_layer("Embedding", Config{{"input_dim", 0}, {"output_dim", 2}}), ValueError);
  auto lstm = make_layer("LSTM", Config{{"units", 3}});
  EXPECT_THROW((*lstm)(arr({2, 2}, 1, 1.0)), ShapeError);  // not a sequence
  auto lstm2 = make_layer("LSTM", Config{{"units", 3}});
  EXPECT_THROW((*lstm2)({x_input(), h0_input()}), ValueError);  // one of two states
}

// ---- weights -------------------------------------------------------------------------------

TEST_P(RecurrentTest, WeightsHaveKerasNamesShapesAndOrder) {
  struct Case {
    const char* cls;
    Config config;
    std::vector<std::pair<std::string, Shape>> weights;
  };
  const std::vector<Case> cases = {
      {"LSTM", Config{{"units", 4}},
       {{"lstm/lstm_cell/kernel", Shape{3, 16}}, {"lstm/lstm_cell/recurrent_kernel", Shape{4, 16}},
        {"lstm/lstm_cell/bias", Shape{16}}}},
      {"GRU", Config{{"units", 4}},
       {{"gru/gru_cell/kernel", Shape{3, 12}}, {"gru/gru_cell/recurrent_kernel", Shape{4, 12}},
        {"gru/gru_cell/bias", Shape{2, 12}}}},
      {"GRU", Config{{"units", 4}, {"name", "gru_before"}, {"reset_after", false}, {"use_bias", false}},
       {{"gru_before/gru_cell/kernel", Shape{3, 12}}, {"gru_before/gru_cell/recurrent_kernel", Shape{4, 12}}}},
      {"GRU", Config{{"units", 4}, {"name", "gru_b"}, {"reset_after", false}},
       {{"gru_b/gru_cell/kernel", Shape{3, 12}}, {"gru_b/gru_cell/recurrent_kernel", Shape{4, 12}},
        {"gru_b/gru_cell/bias", Shape{12}}}},
      {"SimpleRNN", Config{{"units", 4}},
       {{"simple_rnn/simple_rnn_cell/kernel", Shape{3, 4}},
        {"simple_rnn/simple_rnn_cell/recurrent_kernel", Shape{4, 4}},
        {"simple_rnn/simple_rnn_cell/bias", Shape{4}}}},
  };
  for (const auto& c : cases) {
    auto layer = make_layer(c.cls, c.config);
    layer->ensure_built({Shape{Shape::kUnknown, Shape::kUnknown, 3}});
    const auto ws = layer->weights();
    ASSERT_EQ(ws.size(), c.weights.size()) << layer->name();
    for (std::size_t i = 0; i < ws.size(); ++i) {
      EXPECT_EQ(ws[i].name(), c.weights[i].first);
      EXPECT_EQ(ws[i].shape(), c.weights[i].second) << ws[i].name();
      EXPECT_TRUE(ws[i].trainable());
    }
    ASSERT_EQ(layer->children().size(), 1u);
    EXPECT_EQ(layer->children()[0].name, "cell");  // the checkpoint path component, as Keras's
  }
  auto emb = make_layer("Embedding", Config{{"input_dim", 10}, {"output_dim", 3}});
  emb->ensure_built({Shape{Shape::kUnknown, Shape::kUnknown}});
  ASSERT_EQ(emb->weights().size(), 1u);
  EXPECT_EQ(emb->weights()[0].name(), "embedding/embeddings");
  EXPECT_EQ(emb->weights()[0].shape(), (Shape{10, 3}));
  EXPECT_EQ(emb->count_params(), 30);
}

TEST_P(RecurrentTest, LstmBiasStartsWithUnitForgetBias) {
  auto lstm = make_layer("LSTM", Config{{"units", 2}});
  lstm->ensure_built({Shape{1, 3, 5}});
  EXPECT_EQ(lstm->count_params(), 5 * 8 + 2 * 8 + 8);
  EXPECT_EQ(lstm->get_weights()[2].to_vector<float>(), (std::vector<float>{0, 0, 1, 1, 0, 0, 0, 0}));
  auto plain = make_layer("LSTM", Config{{"units", 2}, {"unit_forget_bias", false}});
  plain->ensure_built({Shape{1, 3, 5}});
  EXPECT_EQ(plain->get_weights()[2].to_vector<float>(), std::vector<float>(8, 0.0f));
}

// ---- outputs with fixed weights ---------------------------------------------------------------

TEST_P(RecurrentTest, LstmMatchesTfKeras) {
  const Tensor x = x_input();
  auto lstm = made("LSTM", Config{{"units", 3}, {"return_sequences", true}, {"return_state", true}}, {x}, lstm_weights());
  auto out = (*lstm)(std::vector<Tensor>{x});
  ASSERT_EQ(out.size(), 3u);
  expect_close(out[0], expected::kLstmSeq, Shape{2, 4, 3});
  expect_close(out[1], expected::kLstmH, Shape{2, 3});
  expect_close(out[2], expected::kLstmC, Shape{2, 3});

  auto back = made("LSTM", Config{{"units", 3}, {"return_sequences", true}, {"go_backwards", true}}, {x}, lstm_weights());
  expect_close((*back)(x), expected::kLstmBackSeq, Shape{2, 4, 3});

  auto init = made("LSTM", Config{{"units", 3}, {"return_state", true}}, {x}, lstm_weights());
  out = (*init)({x, h0_input(), c0_input()});
  ASSERT_EQ(out.size(), 3u);
  expect_close(out[0], expected::kLstmInitOut, Shape{2, 3});
  expect_close(out[1], expected::kLstmInitH, Shape{2, 3});
  expect_close(out[2], expected::kLstmInitC, Shape{2, 3});
}

TEST_P(RecurrentTest, GruMatchesTfKeras) {
  const Tensor x = x_input();
  auto gru = made("GRU", Config{{"units", 3}, {"return_sequences", true}, {"return_state", true}}, {x}, gru_weights());
  auto out = (*gru)(std::vector<Tensor>{x});
  ASSERT_EQ(out.size(), 2u);
  expect_close(out[0], expected::kGruSeq, Shape{2, 4, 3});
  expect_close(out[1], expected::kGruH, Shape{2, 3});

  auto before = made("GRU", Config{{"units", 3}, {"return_sequences", true}, {"go_backwards", true}, {"reset_after", false}},
                     {x}, gru_weights_before());
  expect_close((*before)({x, h0_input()})[0], expected::kGruBeforeBackInitSeq, Shape{2, 4, 3});

  // implementation 1 computes the same function.
  auto impl1 = made("GRU", Config{{"units", 3}, {"return_sequences", true}, {"implementation", 1}}, {x}, gru_weights());
  expect_close((*impl1)(x), expected::kGruSeq, Shape{2, 4, 3});
}

TEST_P(RecurrentTest, SimpleRnnMatchesTfKeras) {
  const Tensor x = x_input();
  auto rnn = made("SimpleRNN", Config{{"units", 3}, {"return_sequences", true}, {"return_state", true}}, {x}, srnn_weights());
  auto out = (*rnn)(std::vector<Tensor>{x});
  ASSERT_EQ(out.size(), 2u);
  expect_close(out[0], expected::kSrnnSeq, Shape{2, 4, 3});
  expect_close(out[1], expected::kSrnnH, Shape{2, 3});

  auto back = made("SimpleRNN", Config{{"units", 3}, {"go_backwards", true}}, {x}, srnn_weights());
  expect_close((*back)({x, h0_input()})[0], expected::kSrnnBackInitOut, Shape{2, 3});
}

// ---- masks --------------------------------------------------------------------------------------

Tensor ids_input() {
  return Tensor::from_vector<std::int32_t>({1, 2, 3, 0, 0, 0, 0, 4, 5, 1, 2, 0, 0, 3, 0}, Shape{3, 5});
}
const std::vector<int> kIdsMask = {1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 1, 0};

TEST_P(RecurrentTest, EmbeddingMaskZeroThroughLstmCarriesOutputsOverMaskedSteps) {
  const Tensor ids = ids_input();
  auto emb = made("Embedding", Config{{"input_dim", 6}, {"output_dim", 2}, {"mask_zero", true}}, {ids},
                  {arr({6, 2}, 13, 0.8)});
  const auto e = emb->call_with_masks({ids});
  expect_close(e.tensors[0], expected::kEmbOut, Shape{3, 5, 2});
  ASSERT_TRUE(e.masks[0].defined());
  EXPECT_EQ(e.masks[0].dtype(), DType::kBool);
  EXPECT_EQ(bools(e.masks[0]), kIdsMask);

  CallContext ctx;
  ctx.masks = e.masks;
  auto seq = made("LSTM", Config{{"units", 3}, {"return_sequences", true}}, e.tensors, lstm_weights());
  const auto s = seq->call_with_masks(e.tensors, ctx);
  // Masked steps repeat the previous output (zeros before the first valid step).
  expect_close(s.tensors[0], expected::kEmbLstmSeq, Shape{3, 5, 3});
  ASSERT_TRUE(s.masks[0].defined());  // return_sequences passes the mask on
  EXPECT_EQ(bools(s.masks[0]), kIdsMask);

  auto last = made("LSTM", Config{{"units", 3}, {"return_state", true}}, e.tensors, lstm_weights());
  const auto l = last->call_with_masks(e.tensors, ctx);
  ASSERT_EQ(l.tensors.size(), 3u);
  expect_close(l.tensors[0], expected::kEmbLstmOut, Shape{3, 3});
  expect_close(l.tensors[1], expected::kEmbLstmH, Shape{3, 3});
  expect_close(l.tensors[2], expected::kEmbLstmC, Shape{3, 3});
  for (const auto& m : l.masks) EXPECT_FALSE(m.defined());

  auto back = made("LSTM", Config{{"units", 3}, {"return_sequences", true}, {"go_backwards", true}}, e.tensors, lstm_weights());
  expect_close(back->call_with_masks(e.tensors, ctx).tensors[0], expected::kEmbLstmBackSeq, Shape{3, 5, 3});

  // The same through a Sequential model, which builds on (None, None) inputs first.
  clear_session();
  auto emb2 = make_layer("Embedding", Config{{"input_dim", 6}, {"output_dim", 2}, {"mask_zero", true}});
  auto seq2 = make_layer("LSTM", Config{{"units", 3}, {"return_sequences", true}});
  Sequential model({emb2, seq2});
  EXPECT_EQ(model.outputs()[0].shape(), (Shape{Shape::kUnknown, Shape::kUnknown, 3}));
  emb2->set_weights({arr({6, 2}, 13, 0.8)});
  seq2->set_weights(lstm_weights());
  const auto m = model.call_with_masks({ids});
  expect_close(m.tensors[0], expected::kEmbLstmSeq, Shape{3, 5, 3});
  EXPECT_EQ(bools(m.masks[0]), kIdsMask);
  expect_close(model.predict(ids, 2), expected::kEmbLstmSeq, Shape{3, 5, 3});
}

TEST_P(RecurrentTest, MaskingThroughGruMatchesTfKeras) {
  const Tensor x = Tensor::from_vector<float>(expected::kMaskInput, Shape{3, 5, 2});
  auto masking = make_layer("Masking", Config{{"mask_value", 0.0}});
  const auto m = masking->call_with_masks({x});
  expect_close(m.tensors[0], expected::kMaskingOut, Shape{3, 5, 2});
  EXPECT_EQ(bools(m.masks[0]), (std::vector<int>{1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 1, 1}));
  EXPECT_EQ(bools(masking->compute_mask({x}, {})[0]), bools(m.masks[0]));

  CallContext ctx;
  ctx.masks = m.masks;
  auto gru = made("GRU", Config{{"units", 3}, {"return_sequences", true}}, m.tensors, gru_weights());
  expect_close(gru->call_with_masks(m.tensors, ctx).tensors[0], expected::kMaskGruSeq, Shape{3, 5, 3});

  auto back = made("GRU", Config{{"units", 3}, {"go_backwards", true}, {"return_state", true}}, m.tensors, gru_weights());
  const auto b = back->call_with_masks(m.tensors, ctx);
  expect_close(b.tensors[0], expected::kMaskGruBackOut, Shape{3, 3});
  expect_close(b.tensors[1], expected::kMaskGruBackH, Shape{3, 3});

  auto zero = made("SimpleRNN", Config{{"units", 3}, {"return_sequences", true}, {"zero_output_for_mask", true}},
                   m.tensors, srnn_weights());
  expect_close(zero->call_with_masks(m.tensors, ctx).tensors[0], expected::kMaskSrnnZeroSeq, Shape{3, 5, 3});
}

TEST_P(RecurrentTest, EmbeddingCastsFloatIdsAsKeras) {
  auto emb = make_layer("Embedding", Config{{"input_dim", 4}, {"output_dim", 2}});
  emb->ensure_built({Shape{1, 3}});
  emb->set_weights({Tensor::from_vector<float>({0, 1, 10, 11, 20, 21, 30, 31}, Shape{4, 2})});
  const Tensor out = (*emb)(Tensor::from_vector<float>({1.0f, 2.7f, 3.2f}, Shape{1, 3}));
  EXPECT_EQ(out.to_vector<float>(), (std::vector<float>{10, 11, 20, 21, 30, 31}));
  EXPECT_EQ(emb->compute_output_shape({Shape{Shape::kUnknown, 3}})[0], (Shape{Shape::kUnknown, 3, 2}));
  EXPECT_FALSE(emb->call_with_masks({Tensor::from_vector<std::int32_t>({0, 1}, Shape{1, 2})}).masks[0].defined());
}

// ---- gradients -----------------------------------------------------------------------------------

TEST_P(RecurrentTest, MaskedLstmKernelGradientMatchesTfKeras) {
  const Tensor ids = ids_input();
  auto emb = made("Embedding", Config{{"input_dim", 6}, {"output_dim", 2}, {"mask_zero", true}}, {ids},
                  {arr({6, 2}, 13, 0.8)});
  const auto e = emb->call_with_masks({ids});
  auto lstm = made("LSTM", Config{{"units", 3}, {"return_sequences", true}}, e.tensors, lstm_weights());
  CallContext ctx;
  ctx.masks = e.masks;
  GradientTape tape;
  const Tensor total = sum(lstm->call_with_masks(e.tensors, ctx).tensors[0]);
  const auto grads = tape.gradient(total, std::vector<Variable>{lstm->weights()[0]});
  expect_close(grads[0], expected::kEmbLstmKernelGrad, Shape{2, 12}, 1e-5, 1e-4);
}

// d sum(outputs) / d weight by the tape against central differences, in float64, through
// a masked, reversed LSTM that returns its sequence and states.
TEST_P(RecurrentTest, LstmGradientMatchesFiniteDifferences) {
  auto to64 = [](const Tensor& t) { return cast(t, DType::kFloat64); };
  const Tensor x = to64(arr({2, 4, 3}, 23, 1.0));
  const Tensor h0 = to64(arr({2, 2}, 5, 0.5));
  const Tensor c0 = to64(arr({2, 2}, 6, 0.5));
  CallContext ctx;
  ctx.masks = {mask_of({{1, 0, 1, 1}, {0, 1, 1, 0}})};
  auto lstm = make_layer("LSTM", Config{{"units", 2}, {"dtype", "float64"}, {"return_sequences", true},
                                        {"return_state", true}, {"go_backwards", true}});
  lstm->ensure_built({x.shape(), h0.shape(), c0.shape()});
  std::vector<Tensor> weights = {to64(arr({3, 8}, 2, 0.6)), to64(arr({2, 8}, 3, 0.6)), to64(arr({8}, 4, 0.4))};
  lstm->set_weights(weights);
  auto loss = [&]() {
    const auto outs = lstm->call_with_masks({x, h0, c0}, ctx).tensors;
    Tensor total = sum(outs[0]);
    for (std::size_t i = 1; i < outs.size(); ++i) total = total + sum(outs[i]) * static_cast<double>(i + 1);
    return total;
  };
  std::vector<Tensor> grads;
  {
    GradientTape tape;
    const Tensor l = loss();
    grads = tape.gradient(l, lstm->weights());
  }
  const double eps = 1e-6;
  for (std::size_t w = 0; w < weights.size(); ++w) {
    ASSERT_TRUE(grads[w].defined());
    const auto g = grads[w].to_vector<double>();
    auto base = weights[w].to_vector<double>();
    for (std::size_t i = 0; i < base.size(); ++i) {
      auto probe = [&](double delta) {
        auto v = base;
        v[i] += delta;
        auto ws = weights;
        ws[w] = Tensor::from_vector<double>(v, weights[w].shape());
        lstm->set_weights(ws);
        return loss().item<double>();
      };
      const double numeric = (probe(eps) - probe(-eps)) / (2 * eps);
      EXPECT_NEAR(g[i], numeric, 1e-7 + 1e-6 * std::abs(numeric)) << "weight " << w << " element " << i;
    }
    lstm->set_weights(weights);
  }
}

// ---- graphs ----------------------------------------------------------------------------------------

std::vector<Tensor> functional_weights_a() { return {arr({3, 16}, 15, 0.5), arr({4, 16}, 16, 0.4), arr({16}, 17, 0.3)}; }
std::vector<Tensor> functional_weights_b() { return {arr({4, 8}, 18, 0.5), arr({2, 8}, 19, 0.4), arr({8}, 20, 0.3)}; }

TEST_P(RecurrentTest, FunctionalModelWithUnknownTimestepsMatchesTfKeras) {
  Tensor in = Input(Shape{Shape::kUnknown, 3});
  auto a = make_layer("LSTM", Config{{"units", 4}, {"return_sequences", true}, {"name", "lstm_a"}});
  auto b = make_layer("LSTM", Config{{"units", 2}, {"name", "lstm_b"}});
  Tensor h = (*a)(in);
  EXPECT_EQ(h.shape(), (Shape{Shape::kUnknown, Shape::kUnknown, 4}));
  Tensor out = (*b)(h);
  EXPECT_EQ(out.shape(), (Shape{Shape::kUnknown, 2}));
  auto model = std::make_shared<Functional>(std::vector<Tensor>{in}, std::vector<Tensor>{out});
  a->set_weights(functional_weights_a());
  b->set_weights(functional_weights_b());
  expect_close((*model)(arr({2, 3, 3}, 21, 1.0)), expected::kFunctionalT3, Shape{2, 2});
  expect_close((*model)(arr({2, 5, 3}, 22, 1.0)), expected::kFunctionalT5, Shape{2, 2});
  expect_close(model->predict(arr({2, 5, 3}, 22, 1.0), 1), expected::kFunctionalT5, Shape{2, 2});

  // Rebuilt from its config, with the same weights.
  auto copy = model_from_config(model_config(*model));
  copy->get_layer("lstm_a")->set_weights(functional_weights_a());
  copy->get_layer("lstm_b")->set_weights(functional_weights_b());
  expect_close((*copy)(arr({2, 5, 3}, 22, 1.0)), expected::kFunctionalT5, Shape{2, 2});

  // Known timesteps record the unrolled ops; the result is the same.
  Tensor fixed = Input(Shape{5, 3});
  auto c = make_layer("LSTM", Config{{"units", 4}, {"return_sequences", true}});
  auto d = make_layer("LSTM", Config{{"units", 2}});
  Tensor o = (*d)((*c)(fixed));
  EXPECT_EQ(o.shape(), (Shape{Shape::kUnknown, 2}));
  Functional fixed_model({fixed}, {o});
  c->set_weights(functional_weights_a());
  d->set_weights(functional_weights_b());
  expect_close(fixed_model(arr({2, 5, 3}, 22, 1.0)), expected::kFunctionalT5, Shape{2, 2});
}

TEST_P(RecurrentTest, InitialStatesAreExtraInboundTensorsOfFunctionalConfigs) {
  Tensor seq = Input(Shape{Shape::kUnknown, 3}, "seq");
  Tensor h0 = Input(Shape{4}, "h0");
  Tensor c0 = Input(Shape{4}, "c0");
  auto lstm = make_layer("LSTM", Config{{"units", 4}, {"name", "lstm_init"}, {"return_state", true}});
  auto outs = (*lstm)({seq, h0, c0});
  ASSERT_EQ(outs.size(), 3u);
  for (const auto& o : outs) EXPECT_EQ(o.shape(), (Shape{Shape::kUnknown, 4}));
  Functional model({seq, h0, c0}, {outs[0]});
  const Config config = model.get_config();
  const Config keras = Config::parse(expected::kConfig_lstm_init);
  bool found = false;
  for (const auto& entry : config["layers"]) {
    if (entry["name"] != "lstm_init") continue;
    found = true;
    EXPECT_EQ(entry["class_name"], "LSTM");
    EXPECT_EQ(entry["config"].dump(), keras["config"].dump());
    // What tf-keras wrote for lstm_init(seq, initial_state=[h0, c0]).
    EXPECT_EQ(entry["inbound_nodes"].dump(),
              Config::parse(R"([[["seq", 0, 0, {}], ["h0", 0, 0, {}], ["c0", 0, 0, {}]]])").dump());
  }
  EXPECT_TRUE(found);
  lstm->set_weights({arr({3, 16}, 15, 0.5), arr({4, 16}, 16, 0.4), arr({16}, 17, 0.3)});
  const Tensor x = arr({2, 3, 3}, 21, 1.0);
  const Tensor h = arr({2, 4}, 5, 0.5), c = arr({2, 4}, 6, 0.5);
  expect_same(model({x, h, c})[0], (*lstm)({x, h, c})[0]);
  auto copy = model_from_config(model_config(model));
  copy->get_layer("lstm_init")->set_weights(lstm->get_weights());
  expect_same((*copy)({x, h, c})[0], (*lstm)({x, h, c})[0]);
}

TEST_P(RecurrentTest, TracedCallsRunLikeEagerCalls) {
  auto lstm = make_layer("LSTM", Config{{"units", 3}, {"return_sequences", true}, {"return_state", true}});
  const Tensor x = x_input();
  lstm->ensure_built({x.shape()});
  lstm->set_weights(lstm_weights());
  const auto eager = (*lstm)(std::vector<Tensor>{x});
  for (const Shape& spec : {Shape{Shape::kUnknown, 4, 2}, Shape{Shape::kUnknown, Shape::kUnknown, 2}}) {
    SCOPED_TRACE(spec.to_string());
    Graph g = trace([&](const std::vector<Tensor>& in) { return (*lstm)(in); }, {TensorSpec(spec)});
    ASSERT_EQ(g.outputs().size(), 3u);
    EXPECT_EQ(g.outputs()[0].shape(), (Shape{Shape::kUnknown, spec.dim(1), 3}));
    const auto ran = g.run({x});
    for (std::size_t i = 0; i < eager.size(); ++i) expect_same(ran[i], eager[i]);
  }
}

// ---- dropout ---------------------------------------------------------------------------------------

TEST_P(RecurrentTest, DropoutMasksAreFixedAcrossTimeAndOnlyInTraining) {
  set_random_seed(7);
  const Tensor ones3 = ones(Shape{4, 5, 3});
  // With an identity kernel and no recurrence the outputs are the input dropout mask.
  auto rnn = make_layer("SimpleRNN", Config{{"units", 3}, {"activation", "linear"}, {"use_bias", false},
                                            {"return_sequences", true}, {"dropout", 0.5}});
  rnn->ensure_built({ones3.shape()});
  rnn->set_weights({Tensor::from_vector<float>({1, 0, 0, 0, 1, 0, 0, 0, 1}, Shape{3, 3}), zeros(Shape{3, 3})});
  EXPECT_EQ((*rnn)(ones3).to_vector<float>(), std::vector<float>(60, 1.0f));
  CallContext training;
  training.training = true;
  const auto dropped = (*rnn)(ones3, training).to_vector<float>();
  int kept = 0;
  for (int b = 0; b < 4; ++b) {
    for (int f = 0; f < 3; ++f) {
      const float first = dropped[static_cast<std::size_t>(b * 15 + f)];
      EXPECT_TRUE(first == 0.0f || first == 2.0f) << first;
      kept += first != 0.0f;
      for (int t = 1; t < 5; ++t) EXPECT_EQ(dropped[static_cast<std::size_t>(b * 15 + t * 3 + f)], first);
    }
  }
  EXPECT_GT(kept, 0);
  EXPECT_LT(kept, 12);

  // With a zero kernel and an identity recurrence, h_t = h_0 * m^t for a fixed mask m.
  auto rec = make_layer("SimpleRNN", Config{{"units", 3}, {"activation", "linear"}, {"use_bias", false},
                                            {"return_sequences", true}, {"recurrent_dropout", 0.5}});
  rec->ensure_built({ones3.shape()});
  rec->set_weights({zeros(Shape{3, 3}), Tensor::from_vector<float>({1, 0, 0, 0, 1, 0, 0, 0, 1}, Shape{3, 3})});
  const auto seq = (*rec)({ones3, ones(Shape{4, 3})}, training)[0].to_vector<float>();
  for (int b = 0; b < 4; ++b) {
    for (int f = 0; f < 3; ++f) {
      const float m = seq[static_cast<std::size_t>(b * 15 + f)];
      EXPECT_TRUE(m == 0.0f || m == 2.0f) << m;
      float expect = m;
      for (int t = 1; t < 5; ++t) {
        expect *= m;
        EXPECT_EQ(seq[static_cast<std::size_t>(b * 15 + t * 3 + f)], expect);
      }
    }
  }

  // LSTM and GRU in training: finite, and different from inference.
  for (const char* cls : {"LSTM", "GRU"}) {
    auto layer = make_layer(cls, Config{{"units", 3}, {"dropout", 0.3}, {"recurrent_dropout", 0.3}});
    const Tensor x = x_input();
    layer->ensure_built({x.shape()});
    const auto a = (*layer)(x).to_vector<float>();
    const auto t = (*layer)(x, training).to_vector<float>();
    EXPECT_NE(a, t) << cls;
    for (float v : t) EXPECT_TRUE(std::isfinite(v));
  }
}

// ---- losses ------------------------------------------------------------------------------------------

TEST_P(RecurrentTest, RegularizersAddLosses) {
  auto lstm = make_layer("LSTM", Config{{"units", 3},
                                        {"kernel_regularizer", Config{{"class_name", "L2"}, {"config", {{"l2", 0.5}}}}},
                                        {"activity_regularizer", Config{{"class_name", "L2"}, {"config", {{"l2", 0.5}}}}}});
  const Tensor x = x_input();
  lstm->ensure_built({x.shape()});
  lstm->set_weights(lstm_weights());
  const auto reg = lstm->regularization_losses();
  ASSERT_EQ(reg.size(), 1u);
  double k2 = 0;
  for (float v : lstm_weights()[0].to_vector<float>()) k2 += static_cast<double>(v) * v;
  EXPECT_NEAR(reg[0].item<float>(), 0.5 * k2, 1e-5);

  LossCollector collector;
  (*lstm)(x);
  ASSERT_EQ(collector.losses().size(), 1u);
  double h2 = 0;
  for (float v : expected::kLstmH) h2 += static_cast<double>(v) * v;
  EXPECT_NEAR(collector.losses()[0].item<float>(), 0.5 * h2 / 2.0, 1e-6);
}

INSTANTIATE_TEST_SUITE_P(Ref, RecurrentTest, ::testing::Values("ref:0"));
INSTANTIATE_TEST_SUITE_P(Cpu, RecurrentTest, ::testing::Values("cpu:0"));

}  // namespace
}  // namespace strata
