// Layers whose state lives in files beside the weights: Keras's "assets". tf-keras keeps the
// vocabulary of an adapted StringLookup, IntegerLookup or TextVectorization out of its config;
// Keras 3's `.keras` archive writes it as `assets/<object path>/vocabulary.txt` (saving_lib's
// save_assets/load_assets on a directory per object), and a tf-keras SavedModel keeps a
// vocabulary given as a file in its `assets/` directory. A layer class that has such state
// implements this interface besides Layer (as CallArgumentsLayer, strata/plugin/call_arguments.hpp:
// an interface of its own, so Layer's vtable, and with it the plugin ABI, stays as it was).
// Format plugins find it with dynamic_cast.
//
// Files are handed over as bytes, keyed by a name relative to the layer's own asset directory
// ("vocabulary.txt"); a format decides where they live (a zip member, a file under a
// directory) and reads them as untrusted input: a name is one path component or several
// joined by '/', never empty, absolute, "." or "..". Formats check names they read; layers
// check the contents.
//
// Thread safety: like set_weights; save_assets only reads the layer.
#pragma once

#include <map>
#include <string>
#include "strata/export.hpp"

STRATA_API_BEGIN

namespace strata {

// Relative file name -> contents.
using AssetFiles = std::map<std::string, std::string>;

class AssetsLayer {
 public:
  virtual ~AssetsLayer();

  // The files the layer's state needs, or none when its config holds everything (a
  // vocabulary given in the config: Keras 3 then writes no asset either).
  virtual AssetFiles save_assets() const = 0;
  // Restores the state from the files save_assets wrote (Keras 3's load_assets). Called after
  // the layer is made from its config and before its weights are assigned. ValueError or
  // FormatError naming the layer for files it cannot use.
  virtual void load_assets(const AssetFiles& files) = 0;
  // Whether the layer's config left its state to assets (a vocabulary of null): a loader that
  // finds no files for such a layer leaves it empty, as Keras does, and may warn.
  virtual bool needs_assets() const = 0;
  // Whether tf-keras lists a weight for this layer that Strata does not have: an adapted
  // lookup layer's vocabulary (tf-keras's VocabWeightHandler, its lookup table in checkpoints).
  // A Functional model's checkpoint then numbers the layer among its layers with weights
  // ("layer_with_weights-K"), as tf-keras's does, so the other layers' keys match tf-keras's.
  // Default: false.
  virtual bool has_tf_keras_table_weight() const { return false; }
};

// A name for AssetFiles as formats read them: false for an empty name, an absolute one, a
// backslash, a NUL, or a "", "." or ".." component.
bool is_safe_asset_name(const std::string& name) noexcept;

}  // namespace strata

STRATA_API_END
