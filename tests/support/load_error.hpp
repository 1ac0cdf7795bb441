// The message (without "while ..." frames) of the error of kind E that loading a model
// config from `json` throws, or what went wrong instead: for tests of bad configs.
#pragma once

#include <exception>
#include <string>

#include "strata/error.hpp"
#include "strata/saving.hpp"

namespace strata::test {

template <class E>
std::string load_error(const std::string& json) {
  try {
    model_from_json(json);
  } catch (const E& e) {
    return e.message();
  } catch (const Error& e) {
    return std::string("wrong kind ") + e.kind() + ": " + e.message();
  } catch (const std::exception& e) {
    return std::string("not a strata::Error: ") + e.what();
  }
  return "loaded without an error";
}

}  // namespace strata::test
