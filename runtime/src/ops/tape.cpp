#include <algorithm>
#include <climits>
#include <cstdint>
#include <functional>
#include <utility>
#include <unordered_map>

#include "ops/gradient_ready.hpp"
#include "ops/internal.hpp"

namespace strata {

GradientTape::GradientTape(bool persistent, bool watch_accessed_variables) : state_(std::make_unique<State>()) {
  state_->persistent = persistent;
  state_->watch_accessed_variables = watch_accessed_variables;
  internal::thread_state().tapes.push_back(state_.get());
}

GradientTape::~GradientTape() {
  auto& tapes = internal::thread_state().tapes;
  tapes.erase(std::remove(tapes.begin(), tapes.end(), state_.get()), tapes.end());
}

void GradientTape::watch(const Tensor& tensor) {
  STRATA_CHECK(tensor.defined(), ValueError, "cannot watch an undefined tensor");
  state_->tracked.insert(tensor.id());
}

void GradientTape::watch(const Variable& variable) { state_->watched_variables.insert(variable.id()); }

GradientTape::StopRecording::StopRecording(GradientTape& tape) : tape_(tape), previous_(tape.state_->recording) {
  tape_.state_->recording = false;
}
GradientTape::StopRecording::~StopRecording() { tape_.state_->recording = previous_; }

namespace internal {

void note_variable_read(const Variable& variable, const Tensor& value) {
  for (GradientTape::State* tape : thread_state().tapes) {
    if (!tape->recording) continue;
    const bool watched = tape->watched_variables.count(variable.id()) > 0 ||
                         (tape->watch_accessed_variables && variable.trainable());
    if (!watched) continue;
    tape->watched_variables.insert(variable.id());
    auto& reads = tape->reads[variable.id()];
    if (std::none_of(reads.begin(), reads.end(), [&](const Tensor& t) { return t.id() == value.id(); })) {
      reads.push_back(value);
    }
    tape->tracked.insert(value.id());
  }
}

}  // namespace internal

namespace {

thread_local internal::GradientReadyHook t_gradient_ready;

}  // namespace

namespace internal {

GradientReadyScope::GradientReadyScope(GradientReadyHook hook) : previous_(std::move(t_gradient_ready)) {
  t_gradient_ready = std::move(hook);
}
GradientReadyScope::~GradientReadyScope() { t_gradient_ready = std::move(previous_); }

}  // namespace internal

namespace {

void accumulate(std::unordered_map<std::uint64_t, Tensor>& grads, const Tensor& key, const Tensor& g) {
  auto [it, inserted] = grads.emplace(key.id(), g);
  if (!inserted) it->second = add(it->second, g);
}

// Backpropagates from `target` and returns the gradient of each id in `wanted`.
// `after_entry(i, grads)`, when given, runs after entry i of the walk (in reverse order, whether
// or not the entry contributed).
using AfterEntry = std::function<void(std::size_t, const std::unordered_map<std::uint64_t, Tensor>&)>;
std::unordered_map<std::uint64_t, Tensor> backprop(GradientTape::State& state, const Tensor& target,
                                                   const std::unordered_set<std::uint64_t>& sources,
                                                   const Tensor& output_gradient, const AfterEntry& after_entry = {}) {
  // Ids that depend on a source: only their gradients are worth computing. A source the
  // tape does not follow (never watched) gets no gradient, as in TensorFlow.
  std::unordered_set<std::uint64_t> depends;
  for (auto id : sources) {
    if (state.tracked.count(id)) depends.insert(id);
  }
  for (const auto& e : state.entries) {
    if (std::any_of(e.inputs.begin(), e.inputs.end(), [&](const Tensor& t) { return depends.count(t.id()); })) {
      for (const auto& o : e.outputs) depends.insert(o.id());
    }
  }
  std::unordered_map<std::uint64_t, Tensor> grads;
  if (!depends.count(target.id())) return grads;
  Tensor seed = output_gradient.defined() ? output_gradient : ones_like(target);
  STRATA_CHECK(seed.shape() == target.shape(), ShapeError, "output_gradient has shape ", seed.shape().to_string(),
               " but the target has shape ", target.shape().to_string());
  grads.emplace(target.id(), seed);

  const auto step = [&](const GradientTape::State::Entry& e) {
    std::vector<Tensor> out_grads(e.outputs.size());
    bool any = false;
    for (std::size_t i = 0; i < e.outputs.size(); ++i) {
      if (auto g = grads.find(e.outputs[i].id()); g != grads.end()) {
        out_grads[i] = g->second;
        any = true;
      }
    }
    if (!any) return;
    std::vector<bool> needs_vec(e.inputs.size());
    bool needed = false;
    for (std::size_t i = 0; i < e.inputs.size(); ++i) {
      needs_vec[i] = depends.count(e.inputs[i].id()) > 0;
      needed = needed || needs_vec[i];
    }
    if (!needed) return;
    if (e.def->not_differentiable) return;
    STRATA_CHECK(e.def->gradient != nullptr, ValueError, "no gradient is defined for op ", e.def->name,
                 ", which lies between the target and a source of this gradient");
    std::unique_ptr<bool[]> needs(new bool[e.inputs.size()]);
    for (std::size_t i = 0; i < e.inputs.size(); ++i) needs[i] = needs_vec[i];
    GradientContext ctx{e.attrs, e.inputs, e.outputs, out_grads,
                        std::span<const bool>(needs.get(), e.inputs.size())};
    std::vector<Tensor> in_grads = e.def->gradient(ctx);
    STRATA_CHECK(in_grads.size() == e.inputs.size(), ValueError, "the gradient of ", e.def->name, " returned ",
                 in_grads.size(), " tensors for ", e.inputs.size(), " inputs");
    for (std::size_t i = 0; i < e.inputs.size(); ++i) {
      if (!needs_vec[i] || !in_grads[i].defined()) continue;
      STRATA_CHECK(in_grads[i].shape().is_compatible_with(e.inputs[i].shape()), ShapeError, "the gradient of ",
                   e.def->name, " for input ", i, " has shape ", in_grads[i].shape().to_string(), ", not ",
                   e.inputs[i].shape().to_string());
      accumulate(grads, e.inputs[i], in_grads[i]);
    }
  };
  for (std::size_t i = state.entries.size(); i-- > 0;) {
    step(state.entries[i]);
    if (after_entry) after_entry(i, grads);
  }
  return grads;
}

void begin_gradient(GradientTape::State& s, const Tensor& target) {
  STRATA_CHECK(!s.used || s.persistent, ValueError,
               "gradient() was already called on this non-persistent GradientTape; create it with persistent=true "
               "to ask for several gradients");
  STRATA_CHECK(target.defined(), ValueError, "the gradient target is undefined");
  s.used = true;
}

}  // namespace

std::vector<Tensor> GradientTape::gradient(const Tensor& target, const std::vector<Tensor>& sources,
                                           const Tensor& output_gradient) {
  State& s = *state_;
  begin_gradient(s, target);
  StopRecording pause(*this);
  std::unordered_set<std::uint64_t> ids;
  for (const auto& t : sources) {
    STRATA_CHECK(t.defined(), ValueError, "a gradient source is undefined");
    ids.insert(t.id());
  }
  auto grads = backprop(s, target, ids, output_gradient);
  std::vector<Tensor> out;
  out.reserve(sources.size());
  for (const auto& t : sources) {
    auto it = grads.find(t.id());
    out.push_back(it == grads.end() ? Tensor() : it->second);
  }
  if (!s.persistent) s.entries.clear();
  return out;
}

std::vector<Tensor> GradientTape::gradient(const Tensor& target, const std::vector<Variable>& sources,
                                           const Tensor& output_gradient) {
  State& s = *state_;
  begin_gradient(s, target);
  StopRecording pause(*this);
  std::unordered_set<std::uint64_t> ids;
  for (const auto& v : sources) {
    if (auto it = s.reads.find(v.id()); it != s.reads.end()) {
      for (const auto& t : it->second) ids.insert(t.id());
    }
  }
  // A variable's gradient: the sum over the values read from it.
  const auto total_of = [&](const Variable& v, const std::unordered_map<std::uint64_t, Tensor>& grads) {
    Tensor total;
    if (auto it = s.reads.find(v.id()); it != s.reads.end()) {
      for (const auto& t : it->second) {
        if (auto g = grads.find(t.id()); g != grads.end()) total = total.defined() ? add(total, g->second) : g->second;
      }
    }
    return total;
  };
  std::vector<Tensor> out(sources.size());
  std::unordered_map<std::uint64_t, Tensor> grads;
  // The hook is for this call only (not for gradients a gradient function might take).
  if (internal::GradientReadyHook hook = std::exchange(t_gradient_ready, {})) {
    // Each source's gradient is final after the earliest entry that reads one of its values.
    std::unordered_map<std::uint64_t, std::size_t> first_use;  // tensor id -> earliest entry
    for (std::size_t i = s.entries.size(); i-- > 0;) {
      for (const auto& t : s.entries[i].inputs) first_use[t.id()] = i;
    }
    std::unordered_multimap<std::size_t, std::size_t> final_after;  // entry -> sources
    std::vector<bool> reported(sources.size(), false);
    for (std::size_t k = 0; k < sources.size(); ++k) {
      std::size_t earliest = SIZE_MAX;
      if (auto it = s.reads.find(sources[k].id()); it != s.reads.end()) {
        for (const auto& t : it->second) {
          if (auto f = first_use.find(t.id()); f != first_use.end()) earliest = std::min(earliest, f->second);
        }
      }
      if (earliest == SIZE_MAX) {
        reported[k] = true;
        hook(k, Tensor());  // read by no recorded op
      } else {
        final_after.emplace(earliest, k);
      }
    }
    grads = backprop(s, target, ids, output_gradient,
                     [&](std::size_t entry, const std::unordered_map<std::uint64_t, Tensor>& so_far) {
                       auto [lo, hi] = final_after.equal_range(entry);
                       std::vector<std::size_t> ready;
                       for (auto it = lo; it != hi; ++it) ready.push_back(it->second);
                       std::sort(ready.begin(), ready.end(), std::greater<>());  // deterministic: last source first
                       for (std::size_t k : ready) {
                         out[k] = total_of(sources[k], so_far);
                         reported[k] = true;
                         hook(k, out[k]);
                       }
                     });
    for (std::size_t k = 0; k < sources.size(); ++k) {
      if (!reported[k]) hook(k, Tensor());  // the walk stopped early: the target depends on no source
    }
  } else {
    grads = backprop(s, target, ids, output_gradient);
    for (std::size_t k = 0; k < sources.size(); ++k) out[k] = total_of(sources[k], grads);
  }
  if (!s.persistent) {
    s.entries.clear();
    s.reads.clear();
  }
  return out;
}

}  // namespace strata
