// custom_object_matrix_probe FORMAT PATH: loads a model file in a fresh process that has only
// the default plugin directory (no test plugin, no custom_objects, no scope, nothing the host
// registered), as a user without the custom classes would. Prints one line per class the
// load could not find, "UNKNOWN <kind> <name>", and exits 3 on an UnknownObjectError;
// "LOADED" and 0 when the load succeeded; "ERROR <kind>: <message>" and 4 otherwise.
// FORMAT is h5, savedmodel or json (json: the text of model_to_json, read with
// model_from_json).
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "strata/error.hpp"
#include "strata/model.hpp"
#include "strata/runtime.hpp"
#include "strata/saving.hpp"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: custom_object_matrix_probe h5|savedmodel|json PATH\n";
    return 2;
  }
  const std::string format = argv[1];
  const std::string path = argv[2];
  try {
    strata::initialize();
    if (format == "json") {
      std::ifstream in(path);
      std::stringstream text;
      text << in.rdbuf();
      strata::model_from_json(text.str());
    } else {
      strata::LoadOptions options;
      options.format = format;
      strata::load_model(path, options);
    }
    std::cout << "LOADED\n";
    return 0;
  } catch (const strata::UnknownObjectError& e) {
    for (const auto& m : e.missing()) std::cout << "UNKNOWN " << m.kind << " " << m.name << "\n";
    return 3;
  } catch (const strata::Error& e) {
    std::cout << "ERROR " << e.kind() << ": " << e.what() << "\n";
    return 4;
  } catch (const std::exception& e) {
    std::cout << "ERROR std::exception: " << e.what() << "\n";
    return 4;
  }
}
