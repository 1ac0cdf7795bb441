// StringLookup, IntegerLookup and TextVectorization (issue 23): config round trips in
// tf-keras's key order, indices and encodings against values tf-keras 2.21 computed (the
// Python that produced each is quoted above it), bad configs as typed errors naming the layer,
// assets, and string .npy files through a Functional model's predict.
#include <gtest/gtest.h>

#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "strata/model.hpp"
#include "strata/npy.hpp"
#include "strata/plugin/assets.hpp"
#include "strata/saving.hpp"
#include "test_util.hpp"

namespace strata::layer_tests {
namespace {

namespace fs = std::filesystem;

class LookupTest : public ::testing::Test {
 protected:
  void SetUp() override { clear_session(); }
};

Tensor strings(const std::vector<std::string>& v, const Shape& s) {
  return Tensor::from_strings(v, s);
}
Tensor ints(const std::vector<std::int64_t>& v, const Shape& s) {
  return Tensor::from_vector<std::int64_t>(v, s, Device::cpu());
}
std::vector<std::int64_t> int_values(const Tensor& t) {
  return cast(t, DType::kInt64).to_vector<std::int64_t>();
}
std::vector<std::string> string_values(const Tensor& t) {
  const auto s = t.strings();
  return {s.begin(), s.end()};
}

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

// ---- indices, against tf-keras ------------------------------------------------------------

TEST_F(LookupTest, StringLookupIntIndices) {
  // L.StringLookup(vocabulary=['[UNK]','a','b'])(tf.constant([['b','a','q']])) -> [[2, 1, 0]]
  // (the special tokens at the vocabulary's start are recognized and dropped)
  auto l = make_layer("StringLookup", Config{{"vocabulary", {"[UNK]", "a", "b"}}});
  const Tensor y = (*l)(strings({"b", "a", "q"}, Shape{1, 3}));
  EXPECT_EQ(y.dtype(), DType::kInt64);
  EXPECT_EQ(y.shape(), (Shape{1, 3}));
  EXPECT_EQ(int_values(y), (std::vector<std::int64_t>{2, 1, 0}));
  // L.StringLookup(vocabulary=['a','b'], num_oov_indices=0)(tf.constant(['b','a'])) -> [1, 0]
  auto z = make_layer("StringLookup", Config{{"vocabulary", {"a", "b"}}, {"num_oov_indices", 0}});
  EXPECT_EQ(int_values((*z)(strings({"b", "a"}, Shape{2}))), (std::vector<std::int64_t>{1, 0}));
  const std::string e = error_of([&] { (*z)(strings({"b", "nope"}, Shape{2})); });
  EXPECT_NE(e.find("'nope'"), std::string::npos) << e;
  EXPECT_NE(e.find("string_lookup"), std::string::npos) << e;
}

TEST_F(LookupTest, StringLookupHashedOov) {
  // L.StringLookup(vocabulary=['a','b','c'], mask_token='', num_oov_indices=2)(
  //     tf.constant([['a','','q','zz','b']])) -> [[3, 0, 2, 1, 4]]
  // (OOV: 1 + Fingerprint64(token) % 2, tf.strings.to_hash_bucket_fast)
  auto l =
      make_layer("StringLookup", Config{{"vocabulary", {"a", "b", "c"}}, {"mask_token", ""}, {"num_oov_indices", 2}});
  EXPECT_EQ(int_values((*l)(strings({"a", "", "q", "zz", "b"}, Shape{1, 5}))),
            (std::vector<std::int64_t>{3, 0, 2, 1, 4}));
  // toks = ['x', 'hello world', '\u00e9t\u00e9', 'a'*40, '0123456789abcdefghij0123456789ABCDEFGHIJ0123456789!!', '',
  // 'zz'] L.StringLookup(vocabulary=['zz'], num_oov_indices=7)(tf.constant(toks)) -> [1, 0, 2, 6, 4, 6, 7] (lengths 0
  // to 52: each of FarmHash's length classes)
  auto seven = make_layer("StringLookup", Config{{"vocabulary", {"zz"}}, {"num_oov_indices", 7}});
  const Tensor y = (*seven)(strings({"x", "hello world", "\xc3\xa9t\xc3\xa9", std::string(40, 'a'),
                                     "0123456789abcdefghij0123456789ABCDEFGHIJ0123456789!!", "", "zz"},
                                    Shape{7}));
  EXPECT_EQ(int_values(y), (std::vector<std::int64_t>{1, 0, 2, 6, 4, 6, 7}));
}

TEST_F(LookupTest, IntegerLookupMaskAndHashedOov) {
  // L.IntegerLookup(vocabulary=[5,7,9], mask_token=0, num_oov_indices=3)(
  //     tf.constant([[5,0,-4,10,9,8]])) -> [[4, 0, 3, 2, 6, 3]]   (floormod(x, 3) + 1 for OOV)
  auto l = make_layer("IntegerLookup", Config{{"vocabulary", {5, 7, 9}}, {"mask_token", 0}, {"num_oov_indices", 3}});
  EXPECT_EQ(int_values((*l)(ints({5, 0, -4, 10, 9, 8}, Shape{1, 6}))), (std::vector<std::int64_t>{4, 0, 3, 2, 6, 3}));
  // L.IntegerLookup(vocabulary=[10,20], vocabulary_dtype='int32', dtype='int32')(
  //     tf.constant([[20,10,30]], dtype='int32')) -> [[2, 1, 0]] (int32)
  auto i32 =
      make_layer("IntegerLookup", Config{{"vocabulary", {10, 20}}, {"vocabulary_dtype", "int32"}, {"dtype", "int32"}});
  const Tensor y = (*i32)(cast(ints({20, 10, 30}, Shape{1, 3}), DType::kInt32));
  EXPECT_EQ(y.dtype(), DType::kInt32);
  EXPECT_EQ(int_values(y), (std::vector<std::int64_t>{2, 1, 0}));
}

TEST_F(LookupTest, InvertMapsIndicesBackToTokens) {
  // L.StringLookup(vocabulary=['a','b','c'], mask_token='[M]', invert=True)(
  //     tf.constant([[0,1,2,3,4,7]])) -> [[b'[M]', b'[UNK]', b'a', b'b', b'c', b'[UNK]']]
  auto s = make_layer("StringLookup", Config{{"vocabulary", {"a", "b", "c"}}, {"mask_token", "[M]"}, {"invert", true}});
  const Tensor y = (*s)(ints({0, 1, 2, 3, 4, 7}, Shape{1, 6}));
  EXPECT_EQ(y.dtype(), DType::kString);
  EXPECT_EQ(string_values(y), (std::vector<std::string>{"[M]", "[UNK]", "a", "b", "c", "[UNK]"}));
  // L.IntegerLookup(vocabulary=[10,20], invert=True)(tf.constant([[0,1,2,5]])) -> [[-1, 10, 20, -1]]
  auto i = make_layer("IntegerLookup", Config{{"vocabulary", {10, 20}}, {"invert", true}});
  EXPECT_EQ(int_values((*i)(ints({0, 1, 2, 5}, Shape{1, 4}))), (std::vector<std::int64_t>{-1, 10, 20, -1}));
}

TEST_F(LookupTest, EncodedOutputModes) {
  // L.StringLookup(vocabulary=['a','b','c'], mask_token='', output_mode='multi_hot')(
  //     tf.constant([['a','','a','q']])) -> [[1, 1, 0, 0]]; (tf.constant(['a','','c'])) -> [0, 1, 0, 1]
  auto mh = make_layer("StringLookup",
                       Config{{"vocabulary", {"a", "b", "c"}}, {"mask_token", ""}, {"output_mode", "multi_hot"}});
  Tensor y = (*mh)(strings({"a", "", "a", "q"}, Shape{1, 4}));
  EXPECT_EQ(y.dtype(), DType::kFloat32);
  EXPECT_EQ(values(y), (std::vector<float>{1, 1, 0, 0}));
  y = (*mh)(strings({"a", "", "c"}, Shape{3}));
  EXPECT_EQ(y.shape(), (Shape{4}));
  EXPECT_EQ(values(y), (std::vector<float>{0, 1, 0, 1}));
  // L.StringLookup(vocabulary=['a','b','c'], output_mode='one_hot')(tf.constant(['a','b','q']))
  //   -> [[0,1,0,0],[0,0,1,0],[1,0,0,0]]
  auto oh = make_layer("StringLookup", Config{{"vocabulary", {"a", "b", "c"}}, {"output_mode", "one_hot"}});
  y = (*oh)(strings({"a", "b", "q"}, Shape{3}));
  EXPECT_EQ(y.shape(), (Shape{3, 4}));
  EXPECT_EQ(values(y), (std::vector<float>{0, 1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0}));
  // L.StringLookup(vocabulary=['a','b','c'], output_mode='count', pad_to_max_tokens=True,
  //     max_tokens=6)(tf.constant([['c','c','x','a'],['b','b','b','b']]))
  //   -> [[1, 1, 0, 2, 0, 0], [0, 0, 4, 0, 0, 0]]
  auto count = make_layer(
      "StringLookup",
      Config{
          {"vocabulary", {"a", "b", "c"}}, {"output_mode", "count"}, {"pad_to_max_tokens", true}, {"max_tokens", 6}});
  y = (*count)(strings({"c", "c", "x", "a", "b", "b", "b", "b"}, Shape{2, 4}));
  EXPECT_EQ(values(y), (std::vector<float>{1, 1, 0, 2, 0, 0, 0, 0, 4, 0, 0, 0}));
  // L.StringLookup(vocabulary=['a','b','c'], idf_weights=[0.5,1.0,1.5], output_mode='tf_idf')(
  //     tf.constant([['a','z','a'],['c','b','b']])) -> [[1, 1, 0, 0], [0, 0, 2, 1.5]]
  // (the OOV column's weight is the average idf, 1.0); weights: one non-trainable, (4,)
  auto tfidf =
      make_layer("StringLookup",
                 Config{{"vocabulary", {"a", "b", "c"}}, {"idf_weights", {0.5, 1.0, 1.5}}, {"output_mode", "tf_idf"}});
  y = (*tfidf)(strings({"a", "z", "a", "c", "b", "b"}, Shape{2, 3}));
  EXPECT_EQ(values(y), (std::vector<float>{1, 1, 0, 0, 0, 0, 2, 1.5f}));
  ASSERT_EQ(tfidf->weights().size(), 1u);
  EXPECT_FALSE(tfidf->weights()[0].trainable());
  EXPECT_EQ(tfidf->weights()[0].shape(), (Shape{4}));
}

// ---- configs ----------------------------------------------------------------------------------

TEST_F(LookupTest, ConfigRoundTripInTfKerasOrder) {
  // json.dumps(L.StringLookup(vocabulary=['a','b'], name='s').get_config())
  const Config want = Config::parse(
      R"({"name": "s", "trainable": true, "dtype": "int64", "invert": false, "max_tokens": null,
          "num_oov_indices": 1, "oov_token": "[UNK]", "mask_token": null, "output_mode": "int", "sparse": false,
          "pad_to_max_tokens": false, "idf_weights": null, "vocabulary": ["a", "b"], "vocabulary_size": 3,
          "encoding": "utf-8"})");
  auto l = make_layer("StringLookup", Config{{"name", "s"}, {"vocabulary", {"a", "b"}}});
  EXPECT_EQ(l->get_config().dump(), want.dump());
  EXPECT_EQ(make_layer("StringLookup", want)->get_config().dump(), want.dump());
  // IntegerLookup(vocabulary=[4], name='i', mask_token=0).get_config(), as to_json writes it
  const Config want_int = Config::parse(
      R"({"name": "i", "trainable": true, "dtype": "int64", "invert": false, "max_tokens": null,
          "num_oov_indices": 1, "oov_token": -1, "mask_token": 0, "output_mode": "int", "sparse": false,
          "pad_to_max_tokens": false, "vocabulary_dtype": "int64", "idf_weights": null, "vocabulary": [4],
          "vocabulary_size": 3})");
  auto i = make_layer("IntegerLookup", Config{{"name", "i"}, {"vocabulary", {4}}, {"mask_token", 0}});
  EXPECT_EQ(i->get_config().dump(), want_int.dump());
  EXPECT_EQ(make_layer("IntegerLookup", want_int)->get_config().dump(), want_int.dump());
}

TEST_F(LookupTest, BadConfigsAreTypedErrorsNamingTheLayer) {
  const auto expect_error = [](const Config& c, const std::string& what, const char* cls = "StringLookup") {
    const std::string e = error_of([&] { make_layer(cls, c); });
    EXPECT_NE(e.find("'bad'"), std::string::npos) << e;
    EXPECT_NE(e.find(what), std::string::npos) << e;
  };
  expect_error(Config{{"name", "bad"}, {"vocabulary", {"a", "b", "a"}}}, "repeated");
  expect_error(Config{{"name", "bad"}, {"vocabulary", {"a", "", "b"}}, {"mask_token", ""}}, "mask token");
  expect_error(Config{{"name", "bad"}, {"vocabulary", {"a", "[UNK]"}}, {"invert", true}}, "OOV token");
  expect_error(Config{{"name", "bad"}, {"vocabulary", {"a", "b", "c"}}, {"max_tokens", 3}}, "max_tokens");
  expect_error(Config{{"name", "bad"}, {"max_tokens", 1}}, "max_tokens");
  expect_error(Config{{"name", "bad"}, {"output_mode", "one_hot"}, {"invert", true}}, "invert");
  expect_error(Config{{"name", "bad"}, {"output_mode", "bogus"}}, "output_mode");
  expect_error(Config{{"name", "bad"}, {"num_oov_indices", -1}}, "num_oov_indices");
  expect_error(Config{{"name", "bad"}, {"vocabulary", {"a"}}, {"idf_weights", {1.0}}}, "idf_weights");
  expect_error(Config{{"name", "bad"}, {"vocabulary", {"a"}}, {"output_mode", "tf_idf"}}, "idf_weights");
  expect_error(Config{{"name", "bad"}, {"vocabulary", {"a", "b"}}, {"output_mode", "tf_idf"}, {"idf_weights", {1.0}}},
               "same length");
  expect_error(Config{{"name", "bad"}, {"vocabulary", "/nonexistent/vocab.txt"}}, "does not exist");
  expect_error(Config{{"name", "bad"}, {"sparse", true}, {"output_mode", "count"}}, "sparse");
  expect_error(Config{{"name", "bad"}, {"vocabulary", {1, 1}}}, "repeated", "IntegerLookup");
  expect_error(Config{{"name", "bad"}, {"vocabulary", {"x"}}}, "no integer", "IntegerLookup");
  expect_error(Config{{"name", "bad"}, {"vocabulary", {1}}, {"vocabulary_dtype", "float32"}}, "vocabulary_dtype",
               "IntegerLookup");
}

TEST_F(LookupTest, VocabularyFileAsTfKerasReadsIt) {
  // open('v.txt','w').write('x\ny\nz\n'); L.StringLookup(vocabulary='v.txt')(tf.constant(['z','x','w']))
  //   -> [3, 1, 0]; get_config()['vocabulary'] == 'v.txt'
  const fs::path file = fs::temp_directory_path() / ("strata-lookup-vocab-" + std::to_string(::getpid()) + ".txt");
  std::ofstream(file) << "x\ny\nz\n";
  auto l = make_layer("StringLookup", Config{{"vocabulary", file.string()}});
  EXPECT_EQ(int_values((*l)(strings({"z", "x", "w"}, Shape{3}))), (std::vector<std::int64_t>{3, 1, 0}));
  EXPECT_EQ(l->get_config()["vocabulary"], file.string());
  EXPECT_EQ(l->get_config()["vocabulary_size"], 4);
  fs::remove(file);
}

// ---- assets ----------------------------------------------------------------------------------

TEST_F(LookupTest, AssetsHoldAVocabularyTheConfigDoesNot) {
  // Keras 3: a = keras.layers.StringLookup(); a.adapt(np.array(['x','y','y'])) writes
  // assets/<path>/vocabulary.txt = b'[UNK]\ny\nx' and the config's vocabulary is None.
  auto l = make_layer("StringLookup", Config{{"name", "s"}});
  auto* assets = dynamic_cast<AssetsLayer*>(l.get());
  ASSERT_NE(assets, nullptr);
  EXPECT_TRUE(assets->needs_assets());
  assets->load_assets({{"vocabulary.txt", "[UNK]\ny\nx"}});
  EXPECT_EQ(int_values((*l)(strings({"x", "y", "q"}, Shape{3}))), (std::vector<std::int64_t>{2, 1, 0}));
  EXPECT_EQ(assets->save_assets(), (AssetFiles{{"vocabulary.txt", "[UNK]\ny\nx"}}));
  EXPECT_TRUE(l->get_config()["vocabulary"].is_null());
  EXPECT_EQ(l->get_config()["vocabulary_size"], 3);
  // A vocabulary in the config needs no asset and writes none.
  auto c = make_layer("StringLookup", Config{{"vocabulary", {"a"}}});
  EXPECT_TRUE(dynamic_cast<AssetsLayer*>(c.get())->save_assets().empty());
  EXPECT_FALSE(dynamic_cast<AssetsLayer*>(c.get())->needs_assets());
  // A bad asset is the layer's error.
  const std::string e = error_of([&] {
    dynamic_cast<AssetsLayer*>(make_layer("StringLookup", Config{{"name", "t"}}).get())
        ->load_assets({{"vocabulary.txt", "a\nb\na"}});
  });
  EXPECT_NE(e.find("'t'"), std::string::npos) << e;
  EXPECT_NE(e.find("repeated"), std::string::npos) << e;
}

TEST_F(LookupTest, AssetNamesStayInsideTheirDirectory) {
  EXPECT_TRUE(is_safe_asset_name("vocabulary.txt"));
  EXPECT_TRUE(is_safe_asset_name("layers/string_lookup/vocabulary.txt"));
  for (const char* bad : {"", "/etc/passwd", "../x", "a/../b", "a/./b", "a//b", "a\\b", "a/"}) {
    EXPECT_FALSE(is_safe_asset_name(bad)) << bad;
  }
}

// ---- in a model, from .npy ----------------------------------------------------------------------

TEST_F(LookupTest, StringNpyThroughAFunctionalModelsPredict) {
  const fs::path dir = fs::temp_directory_path() / ("strata-lookup-npy-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  auto lookup = make_layer("StringLookup", Config{{"vocabulary", {"a", "b", "c"}}});
  auto inverse = make_layer("StringLookup", Config{{"vocabulary", {"a", "b", "c"}}, {"invert", true}});
  auto x = Input(Shape{2}, "words", DType::kString);
  auto y = (*lookup)(x);
  auto back = (*inverse)(y);
  auto model = std::make_shared<Functional>(std::vector<Tensor>{x}, std::vector<Tensor>{y, back});
  write_npy(dir / "x.npy", strings({"c", "a", "zz", "b", "b", "c"}, Shape{3, 2}));
  const Tensor read = read_npy(dir / "x.npy");
  ASSERT_EQ(read.dtype(), DType::kString);
  const auto out = model->predict(std::vector<Tensor>{read}, 2);  // two batches: the string input is sliced
  EXPECT_EQ(int_values(out[0]), (std::vector<std::int64_t>{3, 1, 0, 2, 2, 3}));
  EXPECT_EQ(string_values(out[1]), (std::vector<std::string>{"c", "a", "[UNK]", "b", "b", "c"}));
  write_npy(dir / "y.npy", out[1]);
  EXPECT_EQ(string_values(read_npy(dir / "y.npy")), string_values(out[1]));
  fs::remove_all(dir);
}

// ---- TextVectorization ----------------------------------------------------------------------------

TEST_F(LookupTest, TextVectorizationAsTfKeras) {
  // tv = L.TextVectorization(vocabulary=['the','cat','sat','on the','the cat'], ngrams=2,
  //     output_sequence_length=6); tv(tf.constant(['The cat, sat!', 'on the mat...', '']))
  //   -> [[2, 3, 4, 6, 1, 0], [1, 2, 1, 5, 1, 0], [0, 0, 0, 0, 0, 0]]
  auto tv = make_layer(
      "TextVectorization",
      Config{{"vocabulary", {"the", "cat", "sat", "on the", "the cat"}}, {"ngrams", 2}, {"output_sequence_length", 6}});
  Tensor y = (*tv)(strings({"The cat, sat!", "on the mat...", ""}, Shape{3}));
  EXPECT_EQ(y.shape(), (Shape{3, 6}));
  EXPECT_EQ(int_values(y), (std::vector<std::int64_t>{2, 3, 4, 6, 1, 0, 1, 2, 1, 5, 1, 0, 0, 0, 0, 0, 0, 0}));
  // tv2 = L.TextVectorization(vocabulary=['a','b','c'], split='character', output_mode='count',
  //     standardize='lower'); tv2(tf.constant([['AbBa!'],['cz']])) -> [[1, 2, 2, 0], [1, 0, 0, 1]]
  auto tv2 = make_layer(
      "TextVectorization",
      Config{
          {"vocabulary", {"a", "b", "c"}}, {"split", "character"}, {"output_mode", "count"}, {"standardize", "lower"}});
  EXPECT_EQ(values((*tv2)(strings({"AbBa!", "cz"}, Shape{2, 1}))), (std::vector<float>{1, 2, 2, 0, 1, 0, 0, 1}));
  // tv3 = L.TextVectorization(vocabulary=['x y','z'], split=None, standardize=None);
  // tv3(tf.constant([['x y'],['Z'],['z']])) -> [[2], [1], [3]]
  auto tv3 = make_layer("TextVectorization",
                        Config{{"vocabulary", {"x y", "z"}}, {"split", nullptr}, {"standardize", nullptr}});
  EXPECT_EQ(int_values((*tv3)(strings({"x y", "Z", "z"}, Shape{3, 1}))), (std::vector<std::int64_t>{2, 1, 3}));
  // tv4 = L.TextVectorization(vocabulary=['a','b'], output_mode='tf_idf', idf_weights=[1.0,2.0]);
  // tv4(tf.constant(['a b b q','a'])) -> [[1.5, 1, 4], [0, 1, 0]]
  auto tv4 = make_layer("TextVectorization",
                        Config{{"vocabulary", {"a", "b"}}, {"output_mode", "tf_idf"}, {"idf_weights", {1.0, 2.0}}});
  EXPECT_EQ(values((*tv4)(strings({"a b b q", "a"}, Shape{2}))), (std::vector<float>{1.5f, 1, 4, 0, 1, 0}));
  // tv5 = L.TextVectorization(vocabulary=['a','b']); tv5(tf.constant(['a b b q','a', 'b a']))
  //   -> [[2, 3, 3, 1], [2, 0, 0, 0], [3, 2, 0, 0]] (padded to the longest row)
  auto tv5 = make_layer("TextVectorization", Config{{"vocabulary", {"a", "b"}}});
  EXPECT_EQ(int_values((*tv5)(strings({"a b b q", "a", "b a"}, Shape{3}))),
            (std::vector<std::int64_t>{2, 3, 3, 1, 2, 0, 0, 0, 3, 2, 0, 0}));
  // tf.strings.split splits at ASCII whitespace only; unicode_split replaces bad UTF-8 by U+FFFD.
  auto ws = make_layer("TextVectorization", Config{{"vocabulary", {"a", "b", "g\xc2\xa0h"}}, {"standardize", nullptr}});
  EXPECT_EQ(int_values((*ws)(strings({"  a\tb\nb\va\fa\rb  g\xc2\xa0h "}, Shape{1}))),
            (std::vector<std::int64_t>{2, 3, 3, 2, 2, 3, 4}));
}

TEST_F(LookupTest, TextVectorizationConfigAndErrors) {
  // json.dumps(tv.get_config()) for tv above
  const Config want = Config::parse(
      R"({"name": "text_vectorization", "trainable": true, "dtype": "string", "max_tokens": null,
          "standardize": "lower_and_strip_punctuation", "split": "whitespace", "ngrams": 2, "output_mode": "int",
          "output_sequence_length": 6, "pad_to_max_tokens": false, "sparse": false, "ragged": false,
          "vocabulary": ["the", "cat", "sat", "on the", "the cat"], "idf_weights": null, "encoding": "utf-8",
          "vocabulary_size": 7})");
  EXPECT_EQ(make_layer("TextVectorization", want)->get_config().dump(), want.dump());
  const auto expect_error = [](const Config& c, const std::string& what) {
    const std::string e = error_of([&] { make_layer("TextVectorization", c); });
    EXPECT_NE(e.find("'bad'"), std::string::npos) << e;
    EXPECT_NE(e.find(what), std::string::npos) << e;
  };
  expect_error(Config{{"name", "bad"}, {"standardize", "shout"}}, "standardize");
  expect_error(Config{{"name", "bad"}, {"split", "comma"}}, "split");
  expect_error(Config{{"name", "bad"}, {"output_mode", "count"}, {"output_sequence_length", 3}},
               "output_sequence_length");
  expect_error(Config{{"name", "bad"}, {"ragged", true}}, "ragged");
  expect_error(Config{{"name", "bad"}, {"vocabulary", {"a", "a"}}}, "repeated");
  // Adapted (vocabulary null): the vocabulary comes from the assets, with "" as mask token.
  auto tv = make_layer("TextVectorization", Config{{"name", "t"}});
  auto* assets = dynamic_cast<AssetsLayer*>(tv.get());
  ASSERT_NE(assets, nullptr);
  EXPECT_TRUE(assets->needs_assets());
  assets->load_assets({{"vocabulary.txt", "\n[UNK]\nfoo\nbar"}});
  EXPECT_EQ(int_values((*tv)(strings({"bar foo baz"}, Shape{1}))), (std::vector<std::int64_t>{3, 2, 1}));
  // Keras 3 writes it twice: the layer's directory and its `_lookup_layer` child's (the
  // child, tracked, writes its own).
  EXPECT_EQ(assets->save_assets(), (AssetFiles{{"vocabulary.txt", "\n[UNK]\nfoo\nbar"}}));
  ASSERT_EQ(tv->children().size(), 1u);
  EXPECT_EQ(dynamic_cast<AssetsLayer*>(tv->children()[0].layer.get())->save_assets(),
            (AssetFiles{{"vocabulary.txt", "\n[UNK]\nfoo\nbar"}}));
}

// ---- Keras 3 archives: assets both ways, names kept inside assets/ ------------------------------

// An adapted StringLookup (its vocabulary only in assets) in a Functional model.
std::shared_ptr<Model> adapted_lookup_model() {
  auto lookup = make_layer("StringLookup", Config{{"name", "lookup"}});
  dynamic_cast<AssetsLayer*>(lookup.get())->load_assets({{"vocabulary.txt", "[UNK]\nred\nblue"}});
  auto x = Input(Shape{2}, "words", DType::kString);
  return std::make_shared<Functional>(std::vector<Tensor>{x}, std::vector<Tensor>{(*lookup)(x)});
}

TEST_F(LookupTest, KerasArchiveKeepsTheVocabularyInAssetsAndRefusesLinksOut) {
  const fs::path dir = fs::temp_directory_path() / ("strata-lookup-archive-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const Tensor x = strings({"blue", "red", "green", "blue"}, Shape{2, 2});
  const std::vector<std::int64_t> want{2, 1, 0, 2};
  auto model = adapted_lookup_model();
  // Zipped and unzipped (Keras's zipped=False), each read back.
  SaveOptions keras;
  keras.format = "keras";
  save_model(*model, dir / "m.keras");
  save_model(*model, dir / "m_dir", keras);
  const fs::path asset = dir / "m_dir" / "assets" / "layers" / "string_lookup" / "vocabulary.txt";
  ASSERT_TRUE(fs::is_regular_file(asset));
  {
    std::ifstream in(asset, std::ios::binary);
    EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "[UNK]\nred\nblue");
  }
  for (const char* form : {"m.keras", "m_dir"}) {
    const auto back = load_model(dir / form);
    EXPECT_EQ(int_values(back->predict(std::vector<Tensor>{x}).at(0)), want) << form;
  }
  // A vocabulary file that is a symbolic link (to a file outside the archive) is refused by name.
  const fs::path outside = dir / "outside.txt";
  std::ofstream(outside) << "[UNK]\nevil";
  fs::remove(asset);
  fs::create_symlink(outside, asset);
  std::string e = error_of([&] { load_model(dir / "m_dir"); });
  EXPECT_NE(e.find("vocabulary.txt"), std::string::npos) << e;
  EXPECT_NE(e.find("symbolic link"), std::string::npos) << e;
  // So is a directory on the way that links out.
  fs::remove_all(dir / "m_dir" / "assets" / "layers");
  fs::create_directories(dir / "elsewhere" / "string_lookup");
  fs::create_symlink(dir / "elsewhere", dir / "m_dir" / "assets" / "layers");
  e = error_of([&] { load_model(dir / "m_dir"); });
  EXPECT_NE(e.find("assets/layers"), std::string::npos) << e;
  EXPECT_NE(e.find("symbolic link"), std::string::npos) << e;
  fs::remove_all(dir);
}

// Strata's SavedModel of an adapted lookup keeps the vocabulary (tf-keras's lookup-table
// resources are not written) under assets/strata.layers/<layer>/, and reads it back.
TEST_F(LookupTest, SavedModelOfAnAdaptedLookupKeepsItsVocabulary) {
  const fs::path dir = fs::temp_directory_path() / ("strata-lookup-sm-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const Tensor x = strings({"blue", "red", "green", "blue"}, Shape{2, 2});
  auto model = adapted_lookup_model();
  SaveOptions sm;
  sm.format = "savedmodel";
  save_model(*model, dir / "sm", sm);
  const fs::path asset = dir / "sm" / "assets" / "strata.layers" / "lookup" / "vocabulary.txt";
  ASSERT_TRUE(fs::is_regular_file(asset));
  EXPECT_EQ(int_values(load_model(dir / "sm")->predict(std::vector<Tensor>{x}).at(0)),
            (std::vector<std::int64_t>{2, 1, 0, 2}));
  std::ofstream(dir / "outside.txt") << "[UNK]\nevil";
  fs::remove(asset);
  fs::create_symlink(dir / "outside.txt", asset);
  const std::string e = error_of([&] { load_model(dir / "sm"); });
  EXPECT_NE(e.find("vocabulary.txt"), std::string::npos) << e;
  fs::remove_all(dir);
}

// ---- tf_idf weights: tf-keras's weight, in every format ------------------------------------------

// tf-keras: l = L.StringLookup(vocabulary=['a','b','c'], idf_weights=[.5,1,1.5], output_mode='tf_idf');
// l.weights -> [<tf.Variable 'Variable:0' shape=(None,)>] (an unnamed tf.Variable, its checkpoint
// key the attribute `idf_weights`); TextVectorization lists its `_lookup_layer`'s. The weight's
// value, not the config's idf_weights, is what the layer computes with and what files carry.
TEST_F(LookupTest, TfIdfWeightsAreTfKerasVariableInEveryFormat) {
  const fs::path dir = fs::temp_directory_path() / ("strata-lookup-tfidf-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto tv = make_layer("TextVectorization",
                       Config{{"vocabulary", {"a", "b"}}, {"output_mode", "tf_idf"}, {"idf_weights", {1.0, 2.0}}});
  auto sl = make_layer("StringLookup", Config{{"vocabulary", {"a", "b", "c"}}, {"idf_weights", {0.5, 1.0, 1.5}},
                                              {"output_mode", "tf_idf"}});
  for (const auto& layer : {tv, sl}) {
    ASSERT_EQ(layer->weights().size(), 1u) << layer->class_name();
    EXPECT_EQ(layer->weights()[0].name(), "Variable") << layer->class_name();
    EXPECT_FALSE(layer->weights()[0].trainable());
  }
  EXPECT_EQ(tv->weights()[0].shape(), (Shape{3}));  // [OOV] a b
  EXPECT_EQ(sl->weights()[0].shape(), (Shape{4}));
  EXPECT_EQ(sl->own_weights().at(0).name, "idf_weights");  // the checkpoint's key, as tf-keras's
  ASSERT_EQ(tv->children().size(), 1u);
  EXPECT_EQ(tv->children()[0].name, "_lookup_layer");

  auto t = Input(Shape{1}, "text", DType::kString);
  auto w = Input(Shape{3}, "words", DType::kString);
  auto model = std::make_shared<Functional>(std::vector<Tensor>{t, w}, std::vector<Tensor>{(*tv)(t), (*sl)(w)});
  model->set_weights({Tensor::from_vector<float>({3, 5, 7}, Shape{3}, Device::cpu()),
                      Tensor::from_vector<float>({2, 4, 6, 8}, Shape{4}, Device::cpu())});
  const std::vector<Tensor> x{strings({"a b b q", "a"}, Shape{2, 1}),
                              strings({"a", "z", "a", "c", "b", "b"}, Shape{2, 3})};
  // Counts [[1,1,2],[0,1,0]] and [[1,2,0,0],[0,0,2,1]] times the weights just set.
  const std::vector<float> want_tv{3, 5, 14, 0, 5, 0}, want_sl{2, 8, 0, 0, 0, 0, 12, 8};
  auto y = model->predict(x);
  EXPECT_EQ(values(y.at(0)), want_tv);
  EXPECT_EQ(values(y.at(1)), want_sl);
  SaveOptions sm;
  sm.format = "savedmodel";
  save_model(*model, dir / "m.h5");
  save_model(*model, dir / "m.keras");
  save_model(*model, dir / "sm", sm);
  for (const char* form : {"m.h5", "m.keras", "sm"}) {
    const auto back = load_model(dir / form);
    ASSERT_EQ(back->weights().size(), 2u) << form;
    EXPECT_EQ(back->weights()[0].name(), "Variable") << form;
    y = back->predict(x);
    EXPECT_EQ(values(y.at(0)), want_tv) << form;
    EXPECT_EQ(values(y.at(1)), want_sl) << form;
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace strata::layer_tests
