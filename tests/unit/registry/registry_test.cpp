#include <gtest/gtest.h>

#include <type_traits>

#include <array>

#include <atomic>
#include <thread>

#include "strata/custom_objects.hpp"
#include "strata/error.hpp"
#include "strata/plugin/registrar.hpp"

namespace strata {
namespace {

// Factories are never called by the registry; tests tell entries apart by the address
// of the stored value.
ConfigFactory<Layer> tagged_layer(int tag) {
  return [tag](const Config&) -> std::shared_ptr<Layer> {
    (void)tag;
    return nullptr;
  };
}

void add_layers(Registry& r, const std::string& provider, std::initializer_list<const char*> names) {
  Registrar reg(r, provider);
  for (const char* n : names) reg.add<ObjectKind::kLayer>(n, tagged_layer(0));
  reg.commit();
}

TEST(ObjectKind, NamesArePinned) {
  // A new kind is appended (the others keep their values) and named here.
  static_assert(kObjectKindCount == 16, "a new ObjectKind needs its name pinned here");
  const std::array<const char*, kObjectKindCount> expected = {
      "layer",      "model",       "optimizer",   "loss",       "metric",
      "activation", "initializer", "regularizer", "constraint", "learning_rate_schedule",
      "backend",    "format",      "op",          "kernel",     "checkpoint_store", "collective"};
  for (std::size_t k = 0; k < kObjectKindCount; ++k) {
    EXPECT_EQ(kind_name(static_cast<ObjectKind>(k)), expected[k]);
    EXPECT_EQ(kind_from_name(expected[k]), static_cast<ObjectKind>(k));
  }
  EXPECT_THROW(kind_from_name("widget"), ValueError);
}

TEST(RegisteredName, Rules) {
  for (const char* ok : {"Dense", "custom_layer", "my_package>CustomLayer", "Custom>Adam", "MatMul:cpu:float32"}) {
    EXPECT_NO_THROW(validate_registered_name(ok)) << ok;
  }
  for (const char* bad : {"", ">Name", "pkg>", "a>b>c", "has space", "tab\tname", "caf\xc3\xa9"}) {
    EXPECT_THROW(validate_registered_name(bad), ValueError) << bad;
  }
  EXPECT_EQ(bare_name("pkg>Name"), "Name");
  EXPECT_EQ(bare_name("Name"), "Name");
}

TEST(Registry, EntriesRememberTheirProvider) {
  Registry r;
  add_layers(r, "plugin-a", {"Dense", "pkg>Custom"});
  add_layers(r, "plugin-b", {"Conv2D"});
  const auto entries = r.entries();
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].name, "Conv2D");
  EXPECT_EQ(entries[0].provider, "plugin-b");
  EXPECT_EQ(r.find_erased(ObjectKind::kLayer, "Dense").provider, "plugin-a");
  EXPECT_EQ(r.entries_from("plugin-a").size(), 2u);
  EXPECT_TRUE(r.contains(ObjectKind::kLayer, "Dense"));
  EXPECT_FALSE(r.contains(ObjectKind::kActivation, "Dense"));  // kinds are separate
}

TEST(Registry, BareNameFindsUniquePackagedEntry) {
  Registry r;
  add_layers(r, "p", {"my_package>CustomLayer", "a>Twice", "b>Twice"});
  auto m = r.find_erased(ObjectKind::kLayer, "CustomLayer");
  ASSERT_NE(m.value, nullptr);
  EXPECT_EQ(m.name, "my_package>CustomLayer");
  EXPECT_NE(r.find<ObjectKind::kLayer>("my_package>CustomLayer"), nullptr);
  // A packaged lookup never falls back to another package.
  EXPECT_EQ(r.find<ObjectKind::kLayer>("other>CustomLayer"), nullptr);
  auto twice = r.find_erased(ObjectKind::kLayer, "Twice");
  EXPECT_EQ(twice.value, nullptr);
  EXPECT_EQ(twice.ambiguous, (std::vector<std::string>{"a>Twice", "b>Twice"}));
}

// Keras 3 names a custom class by its registered name ("package>Name"); a class a plugin
// registered under the bare Name provides it (issue 21), and an exact registration wins.
TEST(Registry, PackagedNameFindsABareRegistration) {
  Registry r;
  add_layers(r, "p", {"MxLayer", "exact>Both", "Both"});
  auto m = r.find_erased(ObjectKind::kLayer, "StrataTest>MxLayer");
  ASSERT_NE(m.value, nullptr);
  EXPECT_EQ(m.name, "MxLayer");
  EXPECT_EQ(r.find_erased(ObjectKind::kLayer, "exact>Both").name, "exact>Both");
  EXPECT_EQ(r.find_erased(ObjectKind::kLayer, "other>Both").name, "Both");
  EXPECT_EQ(r.find<ObjectKind::kLayer>("StrataTest>Missing"), nullptr);
}

TEST(Registrar, CommitIsAllOrNothingAndNamesBothProviders) {
  Registry r;
  add_layers(r, "plugin-a", {"Dense"});
  const auto generation = r.generation();
  Registrar reg(r, "plugin-b");
  reg.add<ObjectKind::kLayer>("Fresh", tagged_layer(1));
  reg.add<ObjectKind::kLayer>("Dense", tagged_layer(2));
  try {
    reg.commit();
    FAIL();
  } catch (const PluginError& e) {
    const std::string text = e.what();
    EXPECT_NE(text.find("'plugin-b' registers layer 'Dense'"), std::string::npos) << text;
    EXPECT_NE(text.find("'plugin-a' already registered"), std::string::npos) << text;
  }
  EXPECT_FALSE(r.contains(ObjectKind::kLayer, "Fresh"));
  EXPECT_EQ(r.size(), 1u);
  EXPECT_EQ(r.generation(), generation);
}

TEST(Registrar, RejectsBadAndRepeatedNamesWhenStaging) {
  Registry r;
  Registrar reg(r, "p");
  EXPECT_THROW(reg.add<ObjectKind::kLayer>("bad name", tagged_layer(0)), ValueError);
  reg.add<ObjectKind::kLayer>("X", tagged_layer(0));
  EXPECT_THROW(reg.add<ObjectKind::kLayer>("X", tagged_layer(0)), PluginError);
  reg.add<ObjectKind::kActivation>("X", [](const Config&) { return std::shared_ptr<Activation>(); });
  EXPECT_EQ(reg.commit().size(), 2u);
  EXPECT_TRUE(reg.staged().empty());
}

TEST(Registry, SuggestsCloseNames) {
  Registry r;
  add_layers(r, "p", {"CustomLayer", "Dense", "Conv2D", "pkg>DenseBlock"});
  const auto s = r.suggest(ObjectKind::kLayer, "custom_layer");
  ASSERT_FALSE(s.empty());
  EXPECT_EQ(s[0], "CustomLayer");
  EXPECT_EQ(r.suggest(ObjectKind::kLayer, "Dnese")[0], "Dense");
  EXPECT_TRUE(r.suggest(ObjectKind::kLayer, "TotallyDifferent").empty());
}

TEST(Registry, GlobalHoldsTheBuiltInCpuBackend) {
  auto m = Registry::global().find_erased(ObjectKind::kBackend, "cpu");
  ASSERT_NE(m.value, nullptr);
  EXPECT_EQ(m.provider, "runtime");
}

TEST(Registry, ConcurrentLookupsAndRegistrations) {
  Registry r;
  add_layers(r, "base", {"Dense"});
  std::atomic<int> ready{0};
  std::atomic<int> wrong{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&] {
      ++ready;
      for (int i = 0; i < 2000; ++i) {
        if (!r.find<ObjectKind::kLayer>("Dense")) ++wrong;
        // An entry being registered concurrently is either absent or complete.
        const int k = i % 200;
        auto m = r.find_erased(ObjectKind::kLayer, detail::concat("L", k));
        if (m.value && m.provider != detail::concat("p", k)) ++wrong;
      }
    });
  }
  while (ready < 4) std::this_thread::yield();
  for (int i = 0; i < 200; ++i) {
    Registrar reg(r, detail::concat("p", i));
    reg.add<ObjectKind::kLayer>(detail::concat("L", i), tagged_layer(i));
    reg.commit();
  }
  for (auto& t : readers) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(r.size(), 201u);
}

// --- custom objects and resolution -----------------------------------------------------

ConfigFactory<Activation> activation_factory() {
  return [](const Config&) { return std::shared_ptr<Activation>(); };
}

TEST(ObjectResolver, OrderIsScopesThenCustomObjectsThenRegistry) {
  Registry r;
  {
    Registrar reg(r, "plugin");
    reg.add<ObjectKind::kActivation>("act", activation_factory());
    reg.commit();
  }
  CustomObjects custom;
  custom.add<ObjectKind::kActivation>("act", activation_factory());
  CustomObjects outer_objects;
  outer_objects.add<ObjectKind::kActivation>("act", activation_factory());
  CustomObjects inner_objects;
  inner_objects.add<ObjectKind::kActivation>("act", activation_factory());

  auto registry_value = r.find<ObjectKind::kActivation>("act");
  auto custom_value = std::static_pointer_cast<const KindValue<ObjectKind::kActivation>>(
      custom.find_erased(ObjectKind::kActivation, "act").value);
  auto outer_value = std::static_pointer_cast<const KindValue<ObjectKind::kActivation>>(
      outer_objects.find_erased(ObjectKind::kActivation, "act").value);
  auto inner_value = std::static_pointer_cast<const KindValue<ObjectKind::kActivation>>(
      inner_objects.find_erased(ObjectKind::kActivation, "act").value);

  ObjectResolver plain(nullptr, &r);
  EXPECT_EQ(plain.find<ObjectKind::kActivation>("act"), registry_value);
  ObjectResolver with_custom(&custom, &r);
  EXPECT_EQ(with_custom.find<ObjectKind::kActivation>("act"), custom_value);
  {
    CustomObjectScope outer(outer_objects);
    EXPECT_EQ(with_custom.find<ObjectKind::kActivation>("act"), outer_value);
    {
      CustomObjectScope inner(inner_objects);
      EXPECT_EQ(with_custom.find<ObjectKind::kActivation>("act"), inner_value);
      // Scopes are per thread.
      std::shared_ptr<const KindValue<ObjectKind::kActivation>> other;
      std::thread([&] {
        ObjectResolver there(&custom, &r);
        other = there.find<ObjectKind::kActivation>("act");
      }).join();
      EXPECT_EQ(other, custom_value);
    }
    EXPECT_EQ(with_custom.find<ObjectKind::kActivation>("act"), outer_value);
  }
  EXPECT_EQ(with_custom.find<ObjectKind::kActivation>("act"), custom_value);
  EXPECT_FALSE(with_custom.has_missing());
}

TEST(ObjectResolver, CollectsEveryMissAndReportsThemTogether) {
  Registry r;
  add_layers(r, "layers", {"Dense", "CustomLayer"});
  CustomObjects custom;
  custom.add<ObjectKind::kLayer>("my_package>Known", tagged_layer(3));
  ObjectResolver resolver(&custom, &r);
  EXPECT_NE(resolver.find<ObjectKind::kLayer>("Dense"), nullptr);
  EXPECT_NE(resolver.find<ObjectKind::kLayer>("Known"), nullptr);  // bare name in custom objects
  EXPECT_EQ(resolver.find<ObjectKind::kLayer>("custom_layer", "layer 'l' of model 'm'"), nullptr);
  EXPECT_EQ(resolver.find<ObjectKind::kActivation>("custom_activation"), nullptr);
  EXPECT_EQ(resolver.find<ObjectKind::kLayer>("custom_layer"), nullptr);  // repeated miss counted once
  ASSERT_EQ(resolver.missing().size(), 2u);
  try {
    resolver.raise_if_missing();
    FAIL();
  } catch (const UnknownObjectError& e) {
    ASSERT_EQ(e.missing().size(), 2u);
    EXPECT_EQ(e.missing()[0].kind, "layer");
    EXPECT_EQ(e.missing()[0].name, "custom_layer");
    EXPECT_EQ(e.missing()[0].suggestions, (std::vector<std::string>{"CustomLayer"}));
    EXPECT_EQ(e.missing()[1].kind, "activation");
    const std::string text = e.what();
    EXPECT_NE(text.find("Unknown layer: 'custom_layer' (needed by layer 'l' of model 'm')"), std::string::npos);
    EXPECT_NE(text.find("Unknown activation: 'custom_activation'"), std::string::npos);
  }
}

// Issue 19: Keras raises ValueError("Unknown layer: ..."); Strata's UnknownObjectError is a
// ValueError too, so code written for either catches it, and still a kind of its own.
TEST(ObjectResolver, UnknownObjectErrorIsAValueError) {
  static_assert(std::is_base_of_v<ValueError, UnknownObjectError>);
  Registry r;
  ObjectResolver resolver(nullptr, &r);
  EXPECT_EQ(resolver.find<ObjectKind::kLayer>("NoSuchLayer"), nullptr);
  try {
    resolver.raise_if_missing();
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_STREQ(e.kind(), "UnknownObjectError");
    EXPECT_NE(dynamic_cast<const UnknownObjectError*>(&e), nullptr);
  }
}

TEST(ObjectResolver, AmbiguousBareNameIsAMissListingCandidates) {
  Registry r;
  add_layers(r, "p", {"a>Block", "b>Block"});
  ObjectResolver resolver(nullptr, &r);
  EXPECT_EQ(resolver.find<ObjectKind::kLayer>("Block"), nullptr);
  ASSERT_EQ(resolver.missing().size(), 1u);
  EXPECT_EQ(resolver.missing()[0].suggestions, (std::vector<std::string>{"a>Block", "b>Block"}));
  EXPECT_TRUE(resolver.missing()[0].ambiguous);
  EXPECT_EQ(resolver.missing()[0].candidate_providers, (std::vector<std::string>{"p", "p"}));
}

TEST(CustomObjects, CopiesAreIndependent) {
  CustomObjects a;
  a.add<ObjectKind::kLayer>("X", tagged_layer(0));
  CustomObjects b = a;
  b.add<ObjectKind::kLayer>("Y", tagged_layer(0));
  EXPECT_EQ(a.size(), 1u);
  EXPECT_EQ(b.size(), 2u);
  EXPECT_THROW(a.add<ObjectKind::kLayer>("bad name", tagged_layer(0)), ValueError);
}

}  // namespace
}  // namespace strata
