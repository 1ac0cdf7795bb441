// CategoryEncoding, Discretization, Hashing and HashedCrossing (preprocessing_encoding.cpp)
// and the hashes they rest on (fingerprint.cpp, compiled into this test too): config round
// trips in tf-keras's key order, hand-computed encodings, hashes and layer outputs equal to
// numbers real TensorFlow 2.21 / tf-keras 2.21 computed, string inputs through a Functional
// model, and bad configs and inputs as typed errors naming the layer. No venv needed.
//
// The TensorFlow numbers below came from this snippet (TF_USE_LEGACY_KERAS irrelevant: it
// imports tf_keras), run in the interop venv:
//   import os; os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
//   import numpy as np, tensorflow as tf, tf_keras as keras
//   def text(n): return bytes((i * 37 + n * 11 + 5) % 256 for i in range(n))
//   M = 2**63 - 1
//   s = [text(n) for n in range(131)]
//   fp = [int.from_bytes(bytes(b), "little") for b in tf.fingerprint(tf.constant(s), "farmhash64").numpy()]
//   k1 = tf.strings.to_hash_bucket_strong(s, M, key=[1, 2]).numpy()
//   k2 = tf.strings.to_hash_bucket_strong(s, M, key=[-7, 2**62]).numpy()
//   for n in range(131): print(f"    {{{fp[n]}u, {k1[n]}, {k2[n]}}},")
//   w = [b"", b"A", b"hello", "h\u00e9llo w\u00f6rld".encode(), b"0", b"-5"]
//   print([int(v) for v in keras.layers.Hashing(num_bins=7)(tf.constant(w)).numpy()])
//   print([int(v) for v in keras.layers.Hashing(num_bins=7, salt=11)(tf.constant(w)).numpy()])
//   print([int(v) for v in keras.layers.Hashing(num_bins=7, salt=[3, -4], mask_value="")(tf.constant(w)).numpy()])
//   ints = np.array([0, -5, 7, 2**40, 123456789])
//   print([int(v) for v in keras.layers.Hashing(num_bins=1000)(ints).numpy()])
//   print([int(v) for v in keras.layers.Hashing(num_bins=4, mask_value=7)(ints).numpy()])
//   print(keras.layers.Hashing(num_bins=4, output_mode="count")(np.array([[0, 1, 2, 3, 4, 5]])).numpy().tolist())
//   a = tf.constant(["A", "B", "", "h\u00e9llo"]); b = np.array([101, -3, 0, 2**40])
//   print([int(v) for v in keras.layers.HashedCrossing(num_bins=1000)((a, b)).numpy()])
//   print([int(v) for v in keras.layers.HashedCrossing(num_bins=1000)((b, a)).numpy()])
//   print(keras.layers.HashedCrossing(num_bins=3, output_mode="one_hot")((a, b)).numpy().tolist())
#include <gtest/gtest.h>

#include <unistd.h>
#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "fingerprint.hpp"
#include "strata/error.hpp"
#include "strata/model.hpp"
#include "strata/plugin/call_arguments.hpp"
#include "strata/saving.hpp"
#include "test_util.hpp"

namespace strata::layer_tests {
namespace {

namespace fs = std::filesystem;

// The snippet's text(n): n bytes, zeros and bytes above 127 among them.
std::string text(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += static_cast<char>((i * 37 + n * 11 + 5) % 256);
  return s;
}

struct HashRow {
  std::uint64_t fingerprint;        // tf.fingerprint(farmhash64)
  std::int64_t strong_1_2;          // to_hash_bucket_strong(num_buckets 2^63 - 1, key [1, 2])
  std::int64_t strong_minus7_2p62;  // key [-7, 2^62]
};
// Row n: text(n), n = 0..130.
const HashRow kHashes[] = {
    {11160318154034397263u, 443797209252341628, 4528169494603388241},
    {669125381193779828u, 8029036564982650601, 6764953994398778825},
    {10702179436625388362u, 4337853927907432140, 5916327545451396677},
    {6179183600730882022u, 5785603015213425943, 8790372575070669955},
    {14750787378121132661u, 977173906434383528, 8852152830934017394},
    {13616662078970805816u, 883271076214097524, 3807761586158910029},
    {3425752500509694u, 2951970729003042140, 6265464002792746550},
    {15985124606995975068u, 7509660400829500126, 4846346751692217228},
    {3516000268938779821u, 8598835714417039241, 5975997870357316478},
    {12288903728417988762u, 3213218430965606265, 7535633516844683412},
    {17279837357976363595u, 7481778428475312144, 3306751659590407869},
    {2071804343968631692u, 2690837524244169763, 7044654543963153085},
    {16262478555200813505u, 2126344263978374324, 5182833346966577068},
    {11230772275166661584u, 6412702507492735639, 8502147140053688398},
    {11543326136628023157u, 7134906166573874903, 5543904933986515251},
    {17970280380114096608u, 4389362565620423364, 1529029606878915079},
    {12772404107000830745u, 7844581359225546814, 5958147901752688694},
    {7727603985549364300u, 8873920671865616161, 1888503429632934849},
    {17543347515094862877u, 2187288018486406330, 3692157892230085941},
    {3813058004651896772u, 8437213804447113249, 5048188298815782878},
    {2981845577907646364u, 8464570178295171079, 5549191195217120612},
    {8866293437327082064u, 900462868889457374, 4822946248042952536},
    {657096184380580699u, 9119209090002358351, 6224252443078104169},
    {16130103487145182491u, 2108431999859410800, 373697553022225071},
    {17750021463384508380u, 2647567490891117590, 7959234119447209152},
    {17705732725763399771u, 8534764855028721841, 1115394890752450701},
    {8306005337419150985u, 4926577448151628061, 2074881558729064007},
    {18120080531330695291u, 3000519221134271824, 5800846205991998629},
    {3234265719146366357u, 3460069202827185335, 3051986504412750962},
    {2589944804643231807u, 2854409988395668100, 6453213895003061376},
    {17829710177280713651u, 1220358560894460951, 7709641059348655338},
    {15257222058761312931u, 7789138132363874269, 4697208498587346215},
    {7770891726327863402u, 9027897706084729373, 4265746558611249560},
    {17998930952516025185u, 6452199780001252866, 6264258775937632695},
    {9133544346871203811u, 3419539327144208119, 2573961827414853054},
    {12833386053147538523u, 869059265127635782, 138630835912891272},
    {15930849986339355469u, 1968371410795836216, 7304369168287551876},
    {10177033649910512841u, 3972348874716920912, 1211572617731926734},
    {6127222869390056447u, 2750106312498551481, 4566644239773720348},
    {8923895657367624279u, 4690116481742693196, 6700990537203530177},
    {16234095151571327564u, 2359074737000214634, 4646278167352341420},
    {6235600813851809634u, 5623032470686205345, 8150883666723441110},
    {1553061949641143413u, 5792173060105373793, 3480697990182640160},
    {15015874417780399962u, 7639574385668129221, 3889329910991741604},
    {6328955930154184304u, 3195947989767408030, 4566780133189410493},
    {4837146124942891275u, 571208602072814744, 7143032543754799256},
    {13478343747116738458u, 8876910402468219350, 8639417279490893426},
    {681441347995221610u, 925268637982328533, 5248236027502788543},
    {9366141691629157988u, 6701215274253110040, 6037902952633720886},
    {4829603574682309107u, 3811095895007987885, 7206267377429714113},
    {12996298671826971833u, 8653827535165240199, 8739708682876889581},
    {657837958889868246u, 5976910152237603781, 1506721503927299097},
    {3037099421660260476u, 4617390753397435677, 7341733687957756016},
    {17264900647114299361u, 7340804295271759094, 7423537896063165231},
    {1994984513298607423u, 8031004855155097434, 1723272895078922850},
    {10049414707859211484u, 7751893332750657854, 5488107335552541153},
    {14080068579402575850u, 5820679200163591723, 995531752803047971},
    {7721371157575433490u, 4302735582817243692, 6411575661560008165},
    {4045739557619449249u, 5756061030509311768, 8806745502378617049},
    {9403653585699552815u, 6943443898732299328, 6530946084642420827},
    {7262342743910667291u, 5528062916823482882, 7233667038455231099},
    {7462668952234512674u, 8231780303991359715, 7825732027254658139},
    {7485856267357133383u, 6579889510991081389, 3365810074040566199},
    {8705355200570374927u, 90614489222606067, 4585301185495066556},
    {7515273302581885974u, 6253089665427699124, 7441458103368663228},
    {3941834905862237908u, 2363346892991272651, 4704680407658829769},
    {2457203459612453436u, 3906875169017033533, 5822071835218831734},
    {11747063823686491971u, 5885119057203513300, 993355639089791242},
    {16471489340011779952u, 4558696107625221081, 6066241556835337519},
    {12827601509124289217u, 3187772018475031156, 716838143829969434},
    {11750363626217092184u, 4303894225491363150, 4777006936687694020},
    {17827377633147005170u, 4467488506962856380, 7310891362994624960},
    {11667650887796824489u, 8290759165890239892, 6525334719333482573},
    {13032373727224519462u, 6826938766204172577, 3830117918323685513},
    {13609604258268497103u, 290446893882173274, 6676055201258549133},
    {9988863438121890609u, 4196328378214120462, 8911923919961543493},
    {13771662646931966332u, 1781277579970109301, 7877041907195404999},
    {14244415949383726796u, 7982260407645100508, 5042674134612295710},
    {5063764538256261208u, 6489960484268579327, 4642364240627690801},
    {5373222089389892910u, 4579433179117549884, 7744344638367632054},
    {1244297188966959762u, 5334533186372487845, 7816978632252252124},
    {5412504796505923014u, 5124669669213806715, 7176710612480866993},
    {5626300340572386613u, 1409753222999984082, 4206735082636513462},
    {10658224312985199590u, 1384714505609987931, 4175548541497655617},
    {10657799734960660286u, 7646510138157104895, 7324247337360534967},
    {477770050706218940u, 7710559612611970315, 8249462828140245808},
    {8261721672139454137u, 5257640172197725383, 3443303753352600870},
    {12736283794956582599u, 2645631843100577941, 4936117477258938053},
    {4883751497430568135u, 6954568363086360410, 7972664952698611599},
    {2255005964308431009u, 356935966333313496, 911176620843391651},
    {2553097012669622659u, 8980403554311343737, 8482816092582089838},
    {14273643903782095649u, 3503692786624259118, 7115836408064518048},
    {18356866679753976070u, 8288095390870222590, 2944555021080459118},
    {17594858317004450611u, 3525683260478466690, 4027114089907439149},
    {16266691412092528851u, 8517235376214814278, 3327609499122621977},
    {18276523257523653678u, 424377788646953222, 4544602267932337793},
    {13243761301314322778u, 1876758132365632875, 8173965082442168466},
    {12792935692270921937u, 115673374325350649, 1262406346726129155},
    {8782782445194459115u, 4637175835447350361, 2748961472469514527},
    {1134767525739971657u, 2166191753074360374, 937013036265545309},
    {7388775845924436646u, 3482886044114038949, 1996931657947975450},
    {755439565009596646u, 6376757386804560071, 958644568421553535},
    {2115649696654565872u, 3042300096196720990, 5828218047995751520},
    {3680382889894027386u, 2631916128018648917, 2221744598706995129},
    {11878759701976356837u, 8646159750337502480, 5145409132900344012},
    {8847096682629275344u, 1014561006803119036, 3821769121874168814},
    {6669522476681831169u, 1093587526430015008, 4077454045193980403},
    {3570676742374716720u, 3673026166589440689, 679596191550325435},
    {14928607905079682718u, 7098138354534420474, 1324965864354840269},
    {4766968252357166157u, 1522563268996680563, 7611348413282524664},
    {15887219450720673537u, 7997892824541550382, 8610847834660695020},
    {11990128769998741797u, 3545870769506755117, 6665505326941655835},
    {13772068339303889850u, 987420619399203913, 5952066365667360709},
    {18130047272739440673u, 3951225593291625046, 1712451328599365186},
    {14408083919467833195u, 1994955430284387194, 1974661538079564709},
    {10466927393010803096u, 715986248259311673, 3591070007590001416},
    {4064208997113484975u, 1986051643151457646, 8974488861752265854},
    {3117999054121380698u, 1465905637965996722, 7449543139115293898},
    {4555059985503744288u, 4473024272375820027, 2887717653014707438},
    {8647962279675316570u, 2872733349736171183, 3669928409036753183},
    {17481894810412881163u, 6063614590227699427, 2642557987925071598},
    {5142195759698805476u, 655639675097122255, 6170306380826224466},
    {5503056521161845471u, 4986179724515164477, 614374732608296193},
    {11461534654882413100u, 8155782316720036077, 415928956840701593},
    {14059358326244011208u, 208139224314578493, 4846572501865187385},
    {6292569880297221378u, 2176698138040586049, 7818778810649536580},
    {9506588256330287013u, 6513390826290128412, 7119382021519024037},
    {304640132311119167u, 9162344869263870026, 6441016291276717037},
    {17401102497963148302u, 9203809047013128483, 4059692250059262860},
    {1220533166984262885u, 5871335147437984262, 5715701870260770745},
    {16539775148792372587u, 7298584188209625516, 5513177758135365995},
};

constexpr std::int64_t kMaxInt64 = std::numeric_limits<std::int64_t>::max();

class EncodingLayers : public ::testing::Test {
 protected:
  void SetUp() override { clear_session(); }
  DeviceScope device_{Device("ref:0")};
};

std::shared_ptr<Layer> layer(const char* cls, const Config& c) {
  return make_layer(cls, c);
}

std::vector<std::int64_t> ints(const Tensor& t) {
  return cast(t, DType::kInt64).to_vector<std::int64_t>();
}

Tensor strings(const std::vector<std::string>& values) {
  return Tensor::from_strings(values, Shape{static_cast<std::int64_t>(values.size())});
}
Tensor int64s(const std::vector<std::int64_t>& values, Shape shape = Shape()) {
  if (shape.rank() == 0 && !values.empty()) shape = Shape{static_cast<std::int64_t>(values.size())};
  return Tensor::from_vector<std::int64_t>(values, shape);
}
Tensor floats(const std::vector<float>& values, const Shape& shape) {
  return Tensor::from_vector<float>(values, shape);
}

// ---- the hashes ---------------------------------------------------------------------------------

TEST_F(EncodingLayers, FingerprintAndSipHashEqualTensorFlowForEveryLength) {
  for (int n = 0; n <= 130; ++n) {
    SCOPED_TRACE(n);
    const std::string s = text(n);
    const HashRow& want = kHashes[n];
    EXPECT_EQ(layers::fingerprint64(s), want.fingerprint);
    EXPECT_EQ(static_cast<std::int64_t>(layers::siphash24(1, 2, s) % kMaxInt64), want.strong_1_2);
    EXPECT_EQ(static_cast<std::int64_t>(layers::siphash24(static_cast<std::uint64_t>(-7), std::uint64_t{1} << 62, s) %
                                        kMaxInt64),
              want.strong_minus7_2p62);
  }
}

TEST_F(EncodingLayers, HashOpsEqualTensorFlow) {
  std::vector<std::string> all;
  for (int n = 0; n <= 130; ++n) all.push_back(text(n));
  const Tensor in = strings(all);
  const auto fast = ints(execute1("StringToHashBucketFast", {in}, Attrs{{"num_buckets", kMaxInt64}}));
  const auto fast_small = ints(execute1("StringToHashBucketFast", {in}, Attrs{{"num_buckets", std::int64_t{1000}}}));
  const auto strong = ints(execute1("StringToHashBucketStrong", {in},
                                    Attrs{{"num_buckets", kMaxInt64}, {"key", std::vector<std::int64_t>{1, 2}}}));
  for (std::size_t n = 0; n < all.size(); ++n) {
    EXPECT_EQ(static_cast<std::uint64_t>(fast[n]), kHashes[n].fingerprint % static_cast<std::uint64_t>(kMaxInt64)) << n;
    EXPECT_EQ(static_cast<std::uint64_t>(fast_small[n]), kHashes[n].fingerprint % 1000) << n;
    EXPECT_EQ(strong[n], kHashes[n].strong_1_2) << n;
  }
  const Tensor text_of_ints = execute1("AsString", {int64s({-5, 0, std::int64_t{1} << 40})});
  const auto got = text_of_ints.strings();
  EXPECT_EQ(std::vector<std::string>(got.begin(), got.end()), (std::vector<std::string>{"-5", "0", "1099511627776"}));
}

// ---- Hashing --------------------------------------------------------------------------------------

const std::vector<std::string> kWords = {"", "A", "hello", "h\xc3\xa9llo w\xc3\xb6rld", "0", "-5"};

TEST_F(EncodingLayers, HashingEqualsTfKeras) {
  EXPECT_EQ(ints((*layer("Hashing", {{"num_bins", 7}}))(strings(kWords))),
            (std::vector<std::int64_t>{6, 3, 5, 3, 2, 0}));
  EXPECT_EQ(ints((*layer("Hashing", {{"num_bins", 7}, {"salt", 11}}))(strings(kWords))),
            (std::vector<std::int64_t>{4, 4, 6, 1, 3, 3}));
  EXPECT_EQ(ints((*layer("Hashing", {{"num_bins", 7}, {"salt", {3, -4}}, {"mask_value", ""}}))(strings(kWords))),
            (std::vector<std::int64_t>{0, 3, 6, 4, 6, 4}));
  const Tensor numbers = int64s({0, -5, 7, std::int64_t{1} << 40, 123456789});
  EXPECT_EQ(ints((*layer("Hashing", {{"num_bins", 1000}}))(numbers)),
            (std::vector<std::int64_t>{735, 816, 88, 378, 306}));
  EXPECT_EQ(ints((*layer("Hashing", {{"num_bins", 4}, {"mask_value", 7}}))(numbers)),
            (std::vector<std::int64_t>{2, 1, 0, 3, 3}));
  // int32 inputs hash as their decimal text too.
  EXPECT_EQ(ints((*layer("Hashing", {{"num_bins", 1000}}))(cast(int64s({0, -5, 7}), DType::kInt32))),
            (std::vector<std::int64_t>{735, 816, 88}));
  const Tensor counted =
      (*layer("Hashing", {{"num_bins", 4}, {"output_mode", "count"}}))(int64s({0, 1, 2, 3, 4, 5}, Shape{1, 6}));
  EXPECT_EQ(counted.dtype(), DType::kFloat32);
  EXPECT_EQ(counted.shape(), (Shape{1, 4}));
  EXPECT_EQ(values(counted), (std::vector<float>{0, 2, 0, 4}));
  const Tensor hashed = (*layer("Hashing", {{"num_bins", 7}}))(strings(kWords));
  EXPECT_EQ(hashed.dtype(), DType::kInt64);
}

TEST_F(EncodingLayers, HashingEncodesOneHotAndMultiHot) {
  // text "hello" -> 5, "A" -> 3 with 7 bins (above).
  const Tensor two = Tensor::from_strings({"hello", "A"}, Shape{2, 1});
  const Tensor hot = (*layer("Hashing", {{"num_bins", 7}, {"output_mode", "one_hot"}}))(two);
  EXPECT_EQ(hot.shape(), (Shape{2, 7}));
  EXPECT_EQ(values(hot), (std::vector<float>{0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0}));
  const Tensor row = Tensor::from_strings({"hello", "A", "hello"}, Shape{1, 3});
  const Tensor multi = (*layer("Hashing", {{"num_bins", 7}, {"output_mode", "multi_hot"}}))(row);
  EXPECT_EQ(values(multi), (std::vector<float>{0, 0, 0, 1, 0, 1, 0}));
}

// ---- HashedCrossing -------------------------------------------------------------------------------

TEST_F(EncodingLayers, HashedCrossingEqualsTfKeras) {
  const Tensor a = strings({"A", "B", "", "h\xc3\xa9llo"});
  const Tensor b = int64s({101, -3, 0, std::int64_t{1} << 40});
  const auto crossing = layer("HashedCrossing", {{"num_bins", 1000}});
  const Tensor ab = (*crossing)({a, b})[0];
  EXPECT_EQ(ab.dtype(), DType::kInt64);
  EXPECT_EQ(ints(ab), (std::vector<std::int64_t>{891, 798, 600, 219}));
  EXPECT_EQ(ints((*crossing)({b, a})[0]), (std::vector<std::int64_t>{656, 348, 158, 670}));
  const Tensor hot = (*layer("HashedCrossing", {{"num_bins", 3}, {"output_mode", "one_hot"}}))({a, b})[0];
  EXPECT_EQ(hot.shape(), (Shape{4, 3}));
  EXPECT_EQ(values(hot), (std::vector<float>{1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 1}));
  // (batch, 1) inputs keep their shape.
  const Tensor column = (*crossing)({a.reshape(Shape{4, 1}), b.reshape(Shape{4, 1})})[0];
  EXPECT_EQ(column.shape(), (Shape{4, 1}));
  EXPECT_EQ(ints(column), (std::vector<std::int64_t>{891, 798, 600, 219}));
}

TEST_F(EncodingLayers, HashedCrossingOfScalarsAndVectors) {
  // tf-keras: HashedCrossing(1000)(("A", 101)) = 891; int32 inputs cross as int64; one_hot of a
  // scalar is a vector (tf-keras: [1, 0, 0] with 3 bins).
  const auto crossing = layer("HashedCrossing", {{"num_bins", 1000}});
  const Tensor scalar = (*crossing)({Tensor::from_strings({"A"}, Shape{}), Tensor::scalar<std::int64_t>(101)})[0];
  EXPECT_EQ(scalar.shape(), Shape{});
  EXPECT_EQ(ints(scalar), (std::vector<std::int64_t>{891}));
  EXPECT_EQ(ints((*crossing)({strings({"A", "B"}), cast(int64s({101, -3}), DType::kInt32)})[0]),
            (std::vector<std::int64_t>{891, 798}));
  const Tensor hot = (*layer("HashedCrossing", {{"num_bins", 3}, {"output_mode", "one_hot"}}))(
      {Tensor::from_strings({"A"}, Shape{}), Tensor::scalar<std::int64_t>(101)})[0];
  EXPECT_EQ(hot.shape(), Shape{3});
  EXPECT_EQ(values(hot), (std::vector<float>{1, 0, 0}));
  // Hashing one_hot of a scalar string (tf-keras: [0, 0, 0, 0, 0, 1, 0]).
  const Tensor one =
      (*layer("Hashing", {{"num_bins", 7}, {"output_mode", "one_hot"}}))(Tensor::from_strings({"hello"}, Shape{}));
  EXPECT_EQ(values(one), (std::vector<float>{0, 0, 0, 0, 0, 1, 0}));
}

// ---- CategoryEncoding -----------------------------------------------------------------------------

TEST_F(EncodingLayers, CategoryEncodingByHand) {
  const Tensor x = int64s({0, 1, 1, 3, 2, 3}, Shape{2, 3});
  EXPECT_EQ(values((*layer("CategoryEncoding", {{"num_tokens", 4}}))(x)), (std::vector<float>{1, 1, 0, 0, 0, 0, 1, 1}));
  EXPECT_EQ(values((*layer("CategoryEncoding", {{"num_tokens", 4}, {"output_mode", "count"}}))(x)),
            (std::vector<float>{1, 2, 0, 0, 0, 0, 1, 2}));
  // "binary" is multi_hot's old name.
  EXPECT_EQ(layer("CategoryEncoding", {{"num_tokens", 4}, {"output_mode", "binary"}})->get_config()["output_mode"],
            "multi_hot");
  // one_hot: a last axis of 1 is replaced; any other gets the encoding appended.
  const Tensor hot = (*layer("CategoryEncoding", {{"num_tokens", 3}, {"output_mode", "one_hot"}}))(int64s({2, 0}));
  EXPECT_EQ(hot.shape(), (Shape{2, 3}));
  EXPECT_EQ(values(hot), (std::vector<float>{0, 0, 1, 1, 0, 0}));
  // multi_hot of a rank-1 input encodes the whole vector as one sample, as tf-keras does.
  const Tensor whole = (*layer("CategoryEncoding", {{"num_tokens", 4}}))(int64s({0, 1, 1, 3}));
  EXPECT_EQ(whole.shape(), (Shape{4}));
  EXPECT_EQ(values(whole), (std::vector<float>{1, 1, 0, 1}));
  // Floats are truncated (tf.math.bincount casts them).
  EXPECT_EQ(values((*layer("CategoryEncoding", {{"num_tokens", 4}}))(floats({0, 1, 2, 3.5f}, Shape{2, 2}))),
            (std::vector<float>{1, 1, 0, 0, 0, 0, 1, 1}));
  // count_weights (tf-keras: [[0.5, 3, 0, 0], [0, 0, 1, 4]]).
  const auto counting = layer("CategoryEncoding", {{"num_tokens", 4}, {"output_mode", "count"}});
  const Tensor weighted =
      (*counting)({int64s({0, 1, 1, 2, 3, 3}, Shape{2, 3}), floats({0.5f, 1, 2, 1, 1, 3}, Shape{2, 3})})[0];
  EXPECT_EQ(values(weighted), (std::vector<float>{0.5f, 3, 0, 0, 0, 0, 1, 4}));
  // dtype int64 gives int64 counts.
  const Tensor as_int = (*layer("CategoryEncoding", {{"num_tokens", 4}, {"dtype", "int64"}}))(x);
  EXPECT_EQ(as_int.dtype(), DType::kInt64);
}

TEST_F(EncodingLayers, CategoryEncodingRefusesValuesOutOfRangeWhenItRuns) {
  const auto l = layer("CategoryEncoding", {{"name", "cats"}, {"num_tokens", 4}});
  expect_error<ValueError>([&] { (void)(*l)(int64s({0, 5}, Shape{1, 2})); }, "cats", "0 <= values < num_tokens");
  expect_error<ValueError>([&] { (void)(*l)(int64s({-1, 2}, Shape{1, 2})); }, "cats", "num_tokens=4");
  // In a model, the check runs with the model, not when it is built.
  const Tensor in = Input(Shape{2}, "ids", DType::kInt64);
  const auto model = std::make_shared<Functional>(std::vector<Tensor>{in}, std::vector<Tensor>{(*l)(in)});
  EXPECT_EQ(values(model->predict(int64s({0, 3}, Shape{1, 2}))), (std::vector<float>{1, 0, 0, 1}));
  expect_error<ValueError>([&] { (void)model->predict(int64s({0, 4}, Shape{1, 2})); }, "cats", "num_tokens=4");
}

// tf-keras writes count_weights as a keyword argument of the node; the config below is what
// tf-keras 2.21 wrote for CategoryEncoding(num_tokens=4, output_mode="count")(ids, count_weights=w).
TEST_F(EncodingLayers, CategoryEncodingCountWeightsFromAModelConfig) {
  const Config config = Config::parse(R"({"class_name": "Functional", "config": {"name": "m", "layers": [
    {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 3], "dtype": "int64", "sparse": false,
     "ragged": false, "name": "input_1"}, "name": "input_1", "inbound_nodes": []},
    {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 3], "dtype": "float32", "sparse": false,
     "ragged": false, "name": "input_2"}, "name": "input_2", "inbound_nodes": []},
    {"module": "keras.layers", "class_name": "CategoryEncoding", "config": {"name": "category_encoding_1",
     "trainable": true, "dtype": "float32", "num_tokens": 4, "output_mode": "count", "sparse": false},
     "registered_name": null, "build_config": {"input_shape": [2, 3]}, "name": "category_encoding_1",
     "inbound_nodes": [[["input_1", 0, 0, {"count_weights": ["input_2", 0, 0]}]]]}],
    "input_layers": [["input_1", 0, 0], ["input_2", 0, 0]], "output_layers": [["category_encoding_1", 0, 0]]}})");
  const auto model = model_from_config(config);
  const std::vector<Tensor> x = {int64s({0, 1, 1, 2, 3, 3}, Shape{2, 3}), floats({0.5f, 1, 2, 1, 1, 3}, Shape{2, 3})};
  EXPECT_EQ(values(model->predict(x)[0]), (std::vector<float>{0.5f, 3, 0, 0, 0, 0, 1, 4}));
  // Written back with the keyword argument, and read again.
  const Config written = model_config(*model);
  EXPECT_NE(written.dump().find("count_weights"), std::string::npos) << written.dump();
  EXPECT_EQ(values(model_from_config(written)->predict(x)[0]), (std::vector<float>{0.5f, 3, 0, 0, 0, 0, 1, 4}));
}

// ---- Discretization -------------------------------------------------------------------------------

TEST_F(EncodingLayers, DiscretizationIsTensorFlowsBucketize) {
  // A value equal to a boundary goes up; NaN goes to the last bucket (tf.raw_ops.Bucketize).
  const auto l = layer("Discretization", {{"bin_boundaries", {0.0, 1.0}}});
  const Tensor x = floats({-1, 0, 0.5f, 1, 1.5f, std::nanf("")}, Shape{2, 3});
  const Tensor y = (*l)(x);
  EXPECT_EQ(y.dtype(), DType::kInt64);
  EXPECT_EQ(ints(y), (std::vector<std::int64_t>{0, 1, 1, 2, 2, 2}));
  // The docstring's example.
  const auto doc = layer("Discretization", {{"bin_boundaries", {0.0, 1.0, 2.0}}});
  EXPECT_EQ(ints((*doc)(floats({-1.5f, 1.0f, 3.4f, 0.5f, 0.0f, 3.0f, 1.3f, 0.0f}, Shape{2, 4}))),
            (std::vector<std::int64_t>{0, 2, 3, 1, 1, 3, 2, 1}));
  // Integers compare as float32; float64 keeps its precision against float32 boundaries.
  EXPECT_EQ(ints((*doc)(int64s({-1, 0, 1, 2, 5}))), (std::vector<std::int64_t>{0, 1, 2, 3, 3}));
  const auto tenth = layer("Discretization", {{"bin_boundaries", {0.1}}});
  // 0.1 as float32 is 0.100000001490116; the float64 0.1 lies below it.
  EXPECT_EQ(ints((*tenth)(cast(floats({0.1f}, Shape{1}), DType::kFloat64))), (std::vector<std::int64_t>{1}));
  EXPECT_EQ(ints((*tenth)(Tensor::from_vector<double>({0.1}, Shape{1}))), (std::vector<std::int64_t>{0}));
  // No boundaries: one bucket.
  EXPECT_EQ(ints((*layer("Discretization", {{"bin_boundaries", Config::array()}}))(floats({-3, 7}, Shape{2}))),
            (std::vector<std::int64_t>{0, 0}));
  const Tensor hot = (*layer("Discretization", {{"bin_boundaries", {0.0, 1.0}}, {"output_mode", "one_hot"}}))(
      floats({-1, 0.5f, 2}, Shape{3}));
  EXPECT_EQ(hot.dtype(), DType::kFloat32);
  EXPECT_EQ(values(hot), (std::vector<float>{1, 0, 0, 0, 1, 0, 0, 0, 1}));
  const Tensor count = (*layer("Discretization", {{"bin_boundaries", {0.0, 1.0}}, {"output_mode", "count"}}))(
      floats({-1, 0.5f, 2, 3}, Shape{1, 4}));
  EXPECT_EQ(values(count), (std::vector<float>{1, 1, 2}));
  const Tensor multi = (*layer("Discretization", {{"bin_boundaries", {0.0, 1.0}}, {"output_mode", "multi_hot"}}))(
      floats({-1, 0.5f, 2, 3}, Shape{1, 4}));
  EXPECT_EQ(values(multi), (std::vector<float>{1, 1, 1}));
}

// ---- configs --------------------------------------------------------------------------------------

// The config Strata writes (keys in tf-keras's order, with its defaults), and a layer rebuilt
// from it writes the same.
void expect_config(const char* cls, const Config& given, const std::string& want) {
  const auto first = layer(cls, given);
  const Config written = first->get_config();
  EXPECT_EQ(written.dump(), Config::parse(want).dump()) << cls;
  EXPECT_EQ(layer(cls, written)->get_config().dump(), written.dump()) << cls;
}

TEST_F(EncodingLayers, ConfigsRoundTripInTfKerasOrder) {
  // The configs below are tf-keras 2.21's get_config() of the same layers.
  expect_config("Hashing", {{"name", "hashing"}, {"num_bins", 3}},
                R"({"name": "hashing", "trainable": true, "dtype": "int64", "num_bins": 3, "salt": null,
                    "mask_value": null, "output_mode": "int", "sparse": false})");
  expect_config("Hashing", {{"name", "hashing_1"}, {"num_bins", 3}, {"salt", 7}, {"mask_value", ""}},
                R"({"name": "hashing_1", "trainable": true, "dtype": "int64", "num_bins": 3, "salt": [7, 7],
                    "mask_value": "", "output_mode": "int", "sparse": false})");
  expect_config("Hashing", {{"name", "h"}, {"num_bins", 3}, {"output_mode", "one_hot"}},
                R"({"name": "h", "trainable": true, "dtype": "float32", "num_bins": 3, "salt": null,
                    "mask_value": null, "output_mode": "one_hot", "sparse": false})");
  expect_config("Discretization", {{"name", "discretization"}, {"bin_boundaries", {0.0, 1.0}}},
                R"({"name": "discretization", "trainable": true, "dtype": "int64", "bin_boundaries": [0.0, 1.0],
                    "num_bins": null, "epsilon": 0.01, "output_mode": "int", "sparse": false})");
  expect_config("HashedCrossing", {{"name", "hashed_crossing"}, {"num_bins", 3}},
                R"({"name": "hashed_crossing", "trainable": true, "dtype": "int64", "num_bins": 3,
                    "output_mode": "int", "sparse": false})");
  expect_config("CategoryEncoding", {{"name", "category_encoding_2"}, {"num_tokens", 3}},
                R"({"name": "category_encoding_2", "trainable": true, "dtype": "float32", "num_tokens": 3,
                    "output_mode": "multi_hot", "sparse": false})");
  // tf-keras's int mode with a float dtype (configs of older releases) becomes int64.
  EXPECT_EQ(layer("Hashing", {{"num_bins", 3}, {"dtype", "float32"}})->dtype(), DType::kInt64);
  EXPECT_EQ(layer("Discretization", {{"bin_boundaries", {0.0}}, {"dtype", "float32"}})->dtype(), DType::kInt64);
  // Deprecated spellings: max_tokens, bins.
  EXPECT_EQ(layer("CategoryEncoding", {{"max_tokens", 5}})->get_config()["num_tokens"], 5);
  EXPECT_EQ(layer("Discretization", {{"bins", {0.5, 1.5}}})->get_config()["bin_boundaries"], Config({0.5, 1.5}));
  // Keras 3 writes an adapted layer's boundaries and num_bins both (tf-keras refuses both).
  const Config keras3_policy = {{"module", "keras"}, {"class_name", "DTypePolicy"}, {"config", {{"name", "int64"}}}};
  const auto keras3 = layer(
      "Discretization", {{"bin_boundaries", {0.0, 1.0}}, {"num_bins", 3}, {"dtype", keras3_policy}, {"name", "d3"}});
  EXPECT_EQ(ints((*keras3)(floats({-1, 0.5f, 2}, Shape{3}))), (std::vector<std::int64_t>{0, 1, 2}));
  // Discretization with num_bins (adapted in Python) reads and writes num_bins and epsilon.
  const auto adapted = layer("Discretization", {{"num_bins", 4}, {"epsilon", 0.05}});
  EXPECT_EQ(adapted->get_config()["num_bins"], 4);
  EXPECT_EQ(adapted->get_config()["epsilon"], 0.05);
}

// ---- string inputs through a model ------------------------------------------------------------------

TEST_F(EncodingLayers, StringInputsThroughAFunctionalModel) {
  const Tensor words = Input(Shape{1}, "words", DType::kString);
  const Tensor ids = Input(Shape{1}, "ids", DType::kInt64);
  const Tensor hashed = (*layer("Hashing", {{"name", "hash"}, {"num_bins", 7}}))(words);
  const Tensor crossed = (*layer("HashedCrossing", {{"name", "cross"}, {"num_bins", 1000}}))({words, ids})[0];
  const auto model =
      std::make_shared<Functional>(std::vector<Tensor>{words, ids}, std::vector<Tensor>{hashed, crossed});
  const std::vector<Tensor> x = {Tensor::from_strings({"A", "B", "", "h\xc3\xa9llo"}, Shape{4, 1}),
                                 int64s({101, -3, 0, std::int64_t{1} << 40}, Shape{4, 1})};
  const auto check = [&](const Model& m) {
    const auto y = m.predict(x);
    ASSERT_EQ(y.size(), 2u);
    EXPECT_EQ(y[0].shape(), (Shape{4, 1}));
    EXPECT_EQ(ints(y[0])[0], 3);  // "A" -> 3 of 7 (HashingEqualsTfKeras)
    EXPECT_EQ(ints(y[1]), (std::vector<std::int64_t>{891, 798, 600, 219}));
  };
  check(*model);
  // More samples than one batch: predict cuts string inputs into batches on the host.
  std::vector<std::string> many(70, "A");
  many[69] = "hello";
  const auto y = model->predict(
      {Tensor::from_strings(many, Shape{70, 1}), int64s(std::vector<std::int64_t>(70, 1), Shape{70, 1})}, 32);
  EXPECT_EQ(ints(y[0])[0], 3);
  EXPECT_EQ(ints(y[0])[69], 5);  // "hello" -> 5 of 7
  EXPECT_EQ(y[1].shape(), (Shape{70, 1}));
  // Through its JSON and back.
  const auto rebuilt = model_from_json(model_to_json(*model));
  check(*rebuilt);
  // Through every format that saves whole models (the harness's encoding_hashing_string does
  // this against tf-keras and Keras 3).
  const fs::path dir = fs::temp_directory_path() / ("strata-encoding-strings-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  SaveOptions sm;
  sm.format = "savedmodel";
  save_model(*model, dir / "m.h5");
  save_model(*model, dir / "m.keras");
  save_model(*model, dir / "sm", sm);
  for (const char* form : {"m.h5", "m.keras", "sm"}) {
    SCOPED_TRACE(form);
    check(*load_model(dir / form));
  }
  fs::remove_all(dir);
}

// ---- errors -----------------------------------------------------------------------------------------

TEST_F(EncodingLayers, BadConfigsAreTypedErrorsNamingTheLayer) {
  expect_error<ValueError>([] { layer("Hashing", {{"name", "hh"}, {"num_bins", 0}}); }, "hh", "num_bins");
  expect_error<ValueError>([] { layer("Hashing", {{"name", "hh"}}); }, "hh", "num_bins");
  expect_error<ValueError>(
      [] {
        layer("Hashing", {{"name", "hh"}, {"num_bins", 3}, {"salt", {1, 2, 3}}});
      },
      "hh", "salt");
  expect_error<ValueError>(
      [] {
        layer("Hashing", {{"name", "hh"}, {"num_bins", 3}, {"output_mode", "one_hot"}, {"sparse", true}});
      },
      "hh", "sparse");
  expect_error<ValueError>(
      [] {
        layer("Hashing", {{"name", "hh"}, {"num_bins", 3}, {"sparse", true}});
      },
      "hh", "sparse");
  expect_error<Error>(
      [] {
        layer("Hashing", {{"name", "hh"}, {"num_bins", 3}, {"output_mode", "tf_idf"}});
      },
      "hh", "output_mode");
  expect_error<ValueError>([] { layer("CategoryEncoding", {{"name", "ce"}}); }, "ce", "num_tokens must be set");
  expect_error<ValueError>([] { layer("CategoryEncoding", {{"name", "ce"}, {"num_tokens", 0}}); }, "ce", ">= 1");
  expect_error<ValueError>(
      [] {
        layer("CategoryEncoding", {{"name", "ce"}, {"num_tokens", 3}, {"sparse", true}});
      },
      "ce", "sparse");
  expect_error<Error>(
      [] {
        layer("CategoryEncoding", {{"name", "ce"}, {"num_tokens", 3}, {"output_mode", "int"}});
      },
      "ce", "output_mode");
  expect_error<ValueError>(
      [] {
        layer("Discretization", {{"name", "dd"}, {"num_bins", 3}, {"bin_boundaries", {0.0}}});
      },
      "dd", "both num_bins and bin_boundaries");
  expect_error<ValueError>([] { layer("Discretization", {{"name", "dd"}, {"num_bins", -1}}); }, "dd", "num_bins");
  expect_error<ValueError>(
      [] {
        layer("Discretization", {{"name", "dd"}, {"bin_boundaries", {1.0, 0.0}}});
      },
      "dd", "sorted");
  expect_error<ValueError>(
      [] {
        layer("HashedCrossing", {{"name", "hc"}, {"num_bins", 3}, {"dtype", "float32"}});
      },
      "hc", "integer type");
  expect_error<Error>([] { layer("HashedCrossing", {{"name", "hc"}}); }, "hc", "num_bins");
  expect_error<Error>(
      [] {
        layer("HashedCrossing", {{"name", "hc"}, {"num_bins", 3}, {"output_mode", "count"}});
      },
      "hc", "output_mode");
}

// An adapted tf-keras layer (num_bins, no bin_boundaries) keeps its state in the float32 weight
// "summary" (2, None): values, then weights. Built, it is empty (every value in bucket 0, as
// tf-keras's unadapted layer); it takes any (2, n) value, and the boundaries are tf-keras's
// get_bin_boundaries(summary, num_bins) = compress(summary, 1 / num_bins)[0, :-1].
TEST_F(EncodingLayers, DiscretizationSummaryTakesTheFilesShape) {
  const auto l = layer("Discretization", {{"name", "dd"}, {"num_bins", 2}});
  l->ensure_built({Shape{Shape::kUnknown}});
  ASSERT_EQ(l->weights().size(), 1u);
  EXPECT_EQ(l->weights()[0].name(), "dd/summary");
  EXPECT_EQ(l->weights()[0].shape(), (Shape{2, 0}));
  EXPECT_FALSE(l->weights()[0].trainable());
  const Tensor x = floats({-1, 0.5, 1, 2, 5}, Shape{5});
  EXPECT_EQ(ints((*l)(x)), (std::vector<std::int64_t>{0, 0, 0, 0, 0}));
  // 4 columns, epsilon 1/2: cumulative weights 1..4 over 4, interpolated at 0.5 and 1.0 ->
  // bins [1, 3], boundaries [1].
  l->set_weights({floats({0, 1, 2, 3, 1, 1, 1, 1}, Shape{2, 4})});
  EXPECT_EQ(l->weights()[0].shape(), (Shape{2, 4}));
  EXPECT_EQ(ints((*l)(x)), (std::vector<std::int64_t>{0, 0, 1, 1, 1}));
  // Weights 1, 3 (cumulative 0.25, 1): 0.5 interpolates to 0 + (0.5 - 0.25) / 0.75 * 4 = 4/3.
  l->set_weights({floats({0, 4, 1, 3}, Shape{2, 2})});
  EXPECT_EQ(ints((*l)(floats({1.33f, 1.34f}, Shape{2}))), (std::vector<std::int64_t>{0, 1}));
  // Fewer columns than num_bins: the summary's values as they are, the last one dropped.
  const auto many = layer("Discretization", {{"num_bins", 10}});
  many->ensure_built({Shape{Shape::kUnknown}});
  many->set_weights({floats({0, 1, 2, 1, 1, 1}, Shape{2, 3})});
  EXPECT_EQ(ints((*many)(floats({-1, 0, 1.5, 9}, Shape{4}))), (std::vector<std::int64_t>{0, 1, 2, 2}));
  // Only the declared (2, None) is taken.
  EXPECT_THROW(l->set_weights({floats({0, 1, 2}, Shape{3, 1})}), ShapeError);
  // A layer given bin_boundaries has no weight.
  const auto given = layer("Discretization", {{"bin_boundaries", {0.0}}});
  given->ensure_built({Shape{Shape::kUnknown}});
  EXPECT_TRUE(given->weights().empty());
}

TEST_F(EncodingLayers, BadInputsAreTypedErrorsNamingTheLayer) {
  // An adapted layer needs num_bins to derive its boundaries from the summary.
  expect_error<ValueError>(
      [] {
        const auto l = layer("Discretization", {{"name", "dd"}});
        l->ensure_built({Shape{1}});
        l->set_weights({floats({0, 1, 2, 3}, Shape{2, 2})});
        (void)(*l)(floats({1}, Shape{1}));
      },
      "dd", "num_bins");
  expect_error<ValueError>(
      [] {
        (void)(*layer("Hashing", {{"name", "hh"}, {"num_bins", 3}}))(floats({1}, Shape{1}));
      },
      "hh", "float32");
  expect_error<ValueError>(
      [] {
        (void)(*layer("Hashing", {{"name", "hh"}, {"num_bins", 3}, {"mask_value", 0}}))(strings({"a"}));
      },
      "hh", "mask_value");
  expect_error<ValueError>(
      [] {
        (void)(*layer("Hashing", {{"name", "hh"}, {"num_bins", 3}, {"mask_value", "x"}}))(int64s({1}));
      },
      "hh", "mask_value");
  const auto hc = layer("HashedCrossing", {{"name", "hc"}, {"num_bins", 3}});
  expect_error<ValueError>([&] { (void)(*hc)({strings({"a"})}); }, "hc", "at least two inputs");
  expect_error<ValueError>([&] { (void)(*hc)({strings({"a", "b"}), int64s({1})}); }, "hc", "equal shape");
  expect_error<ValueError>([&] { (void)(*hc)({floats({1}, Shape{1}), int64s({1})}); }, "hc", "integer or string");
  expect_error<ValueError>(
      [&] {
        (void)(*hc)({int64s({1, 2}, Shape{1, 2}), int64s({1, 2}, Shape{1, 2})});
      },
      "hc", "[batch_size, 1]");
  const auto ce = layer("CategoryEncoding", {{"name", "ce"}, {"num_tokens", 3}});
  expect_error<ValueError>([&] { (void)(*ce)(int64s({1, 2, 0, 1, 2, 0, 1, 2}, Shape{2, 2, 2})); }, "ce", "rank");
  expect_error<ValueError>([&] { (void)(*ce)({int64s({1}), floats({1}, Shape{1})}); }, "ce", "count_weights");
  expect_error<ValueError>([&] { (void)(*ce)(strings({"a"})); }, "ce", "string");
}

// The same model on every test device (ref, and cpu when its backend is loaded): strings stay on
// the host, the rest runs on the device.
TEST(EncodingLayersDevices, OneModelOnEveryDevice) {
  int ran = 0;
  for (const std::string& device_name : test_devices()) {
    SCOPED_TRACE(device_name);
    if (const std::string why = skip_reason(device_name); !why.empty()) continue;
    const Device device(device_name);
    DeviceScope scope(device);
    clear_session();
    ++ran;
    const Tensor words = Input(Shape{1}, "words", DType::kString);
    const Tensor ids = Input(Shape{2}, "ids", DType::kInt64);
    const Tensor real = Input(Shape{3}, "real");
    const Tensor hashed = (*layer(
        "Hashing", {{"num_bins", 7}, {"salt", {3, -4}}, {"mask_value", ""}, {"output_mode", "one_hot"}}))(words);
    const Tensor crossed = (*layer("HashedCrossing", {{"num_bins", 1000}}))({words, words})[0];
    const Tensor counted = (*layer("CategoryEncoding", {{"num_tokens", 3}, {"output_mode", "count"}}))(ids);
    const Tensor bucketed =
        (*layer("Discretization", {{"bin_boundaries", {0.0, 1.0}}, {"output_mode", "count"}}))(real);
    const auto model = std::make_shared<Functional>(std::vector<Tensor>{words, ids, real},
                                                    std::vector<Tensor>{hashed, crossed, counted, bucketed});
    const auto y =
        model->predict({Tensor::from_strings({"hello", ""}, Shape{2, 1}), int64s({0, 2, 2, 2}, Shape{2, 2}).to(device),
                        floats({-1, 0, 1, 0.5f, 0.25f, 7}, Shape{2, 3}).to(device)});
    ASSERT_EQ(y.size(), 4u);
    // salt [3, -4], mask "": "hello" -> 6, "" -> 0 (HashingEqualsTfKeras).
    EXPECT_EQ(values(y[0].to(Device::cpu())), (std::vector<float>{0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0}));
    EXPECT_EQ(y[1].shape(), (Shape{2, 1}));
    EXPECT_EQ(values(y[2].to(Device::cpu())), (std::vector<float>{1, 0, 1, 0, 0, 2}));
    EXPECT_EQ(values(y[3].to(Device::cpu())), (std::vector<float>{1, 1, 1, 0, 2, 1}));
  }
  EXPECT_GE(ran, 1);
  RecordProperty("devices", ran);
}

}  // namespace
}  // namespace strata::layer_tests
