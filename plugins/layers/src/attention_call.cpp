// The call arguments the attention layers share (attention_call.hpp).
#include "attention_call.hpp"

namespace strata::layers {

Config attention_positional_as_keywords(const Config& arguments, const std::string& subject) {
  return positional_as_keywords(arguments,
                                {"value", "key", "query_mask", "value_mask", "key_mask", "attention_mask",
                                 "return_attention_scores", "training", "use_causal_mask"},
                                subject);
}

Config attention_default_arguments(std::size_t inputs) {
  auto tensor = [](std::size_t i) { return Config{{"strata.tensor", i}}; };
  Config kwargs = Config::object();
  if (inputs > 1) kwargs["value"] = tensor(1);
  if (inputs > 2) kwargs["key"] = tensor(2);
  if (inputs > 3) kwargs["attention_mask"] = tensor(3);
  return Config{{"args", Config::array({Config::array({tensor(0)})})}, {"kwargs", kwargs}};
}

Config with_output_structure(Config arguments) {
  if (arguments.is_object() && arguments.contains("kwargs") && arguments["kwargs"].is_object()) {
    const Config& flag = arguments["kwargs"].value("return_attention_scores", Config(false));
    if (flag.is_boolean() && flag.get<bool>()) arguments["outputs"] = "tuple";
  }
  return arguments;
}

AttentionCall parse_attention_call(const Config& arguments, std::size_t inputs, const std::string& subject,
                                   bool keyword_masks) {
  STRATA_CHECK(arguments.is_object() && arguments.contains("args") && arguments["args"].is_array() &&
                   arguments["args"].size() == 1,
               FormatError, subject, ": call arguments must be {\"args\": [query], \"kwargs\": {...}}, got ",
               arguments.dump());
  Config first = arguments["args"][0];
  if (first.is_array()) {
    STRATA_CHECK(first.size() == 1, FormatError, subject, ": the query must be one tensor, got ", first.dump());
    first = first[0];
  }
  AttentionCall how;
  how.query = call_tensor_index(first, inputs, subject, "the query");
  const Config kwargs = arguments.value("kwargs", Config::object());
  bool value = false;
  for (const auto& [key, v] : kwargs.items()) {
    if (key == "value") {
      how.value = call_tensor_index(v, inputs, subject, "the value");
      value = true;
    } else if (key == "key" || key == "attention_mask" ||
               (keyword_masks && (key == "query_mask" || key == "value_mask" || key == "key_mask"))) {
      if (v.is_null()) continue;
      const std::size_t i = call_tensor_index(v, inputs, subject, "the " + key);
      (key == "key"              ? how.key
       : key == "attention_mask" ? how.mask
       : key == "query_mask"     ? how.query_mask
       : key == "value_mask"     ? how.value_mask
                                 : how.key_mask) = i;
    } else if (!read_attention_flag(key, kwargs, how, subject)) {
      STRATA_THROW(FormatError, subject, ": unknown call argument '", key, "' (", v.dump(), ")");
    }
  }
  STRATA_CHECK(value, ValueError, subject, ": is called without a value; it takes query and value (and optionally ",
               "key and attention_mask), got ", inputs, " input(s)");
  return how;
}

AttentionInputs attention_inputs(const AttentionCall& how, const std::vector<Tensor>& inputs) {
  AttentionInputs in;
  in.query = inputs[how.query];
  in.value = inputs[how.value];
  in.own_key = how.key && inputs[*how.key].defined();
  in.key = in.own_key ? inputs[*how.key] : in.value;
  return in;
}

Tensor attention_dropout(const Tensor& weights, double rate, bool training) {
  if (!(training && rate > 0.0)) return weights;
  const Tensor keep =
      cast(greater_equal(uniform_noise_like(weights, weights.shape(), std::nullopt), scalar_like(weights, rate)),
           weights.dtype());
  return rate >= 1.0 ? zeros_like(weights) : (weights * (1.0 / (1.0 - rate))) * keep;
}

Positions attention_positions(const Tensor& rows_of, std::int64_t row_axis, const Tensor& columns_of,
                              std::int64_t column_axis) {
  return {positions_along(rows_of, row_axis, Shape{1, -1, 1}), positions_along(columns_of, column_axis, Shape{1, 1, -1})};
}

Tensor causal_mask(const Positions& p) { return greater_equal(p.rows, p.columns); }

}  // namespace strata::layers
