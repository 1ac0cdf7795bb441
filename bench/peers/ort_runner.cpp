// ONNX Runtime through its C API, for the peer benchmark's fair batch-1 figures: a C++
// caller, no Python in between. The onnxruntime wheel ships libonnxruntime.so but no
// headers, and there is no ORT development package here, so this program declares the few
// entries it calls itself and dlopens the wheel's library:
//
//   OrtGetApiBase()            the one exported symbol: {GetApi(version), GetVersionString()}
//   GetApi(version)            the OrtApi function table, an append-only array of function
//                              pointers; the entries used here are all in its version-1 part,
//                              whose positions ORT pins (ReleaseCustomOpDomain is entry 101)
//
// Positions (0-based) of the entries used, from onnxruntime_c_api.h (the version-1 block is
// the same in every release, 1.32.0 included, the version pinned by scripts/bench-peers.sh):
//   2 GetErrorMessage, 3 CreateEnv, 7 CreateSession, 9 Run, 10 CreateSessionOptions,
//   23 SetSessionGraphOptimizationLevel, 24 SetIntraOpNumThreads, 25 SetInterOpNumThreads,
//   49 CreateTensorWithDataAsOrtValue, 51 GetTensorMutableData, 69 CreateCpuMemoryInfo,
//   92 ReleaseEnv, 93 ReleaseStatus, 94 ReleaseMemoryInfo, 95 ReleaseSession, 96 ReleaseValue,
//   100 ReleaseSessionOptions.
//
//   strata_bench_peers_ort LIBONNXRUNTIME_SO
// then commands on stdin, one per line, each answered with one line on stdout:
//   load KEY MODEL.onnx THREADS                       -> ok | error MESSAGE
//   run KEY INPUT OUTPUT REPS D0 D1 ...               -> MEDIAN_SECONDS MIN_SECONDS (per call)
//   version                                           -> the library's version string
// `run` feeds uniform [0, 1) float32 values of shape D0 x D1 x ... (seeded), lets ORT
// allocate the output (its ordinary path) and releases it each call; one warm-up call first.
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

// Opaque handles, as ORT's API has them.
struct OrtEnv;
struct OrtStatus;
struct OrtSession;
struct OrtSessionOptions;
struct OrtValue;
struct OrtMemoryInfo;
struct OrtRunOptions;

struct ApiBase {
  const void* const* (*get_api)(std::uint32_t version);
  const char* (*get_version_string)();
};

// The table's entries used here: index and signature.
using GetErrorMessageFn = const char* (*)(const OrtStatus*);
using CreateEnvFn = OrtStatus* (*)(int log_level, const char* log_id, OrtEnv** out);
using CreateSessionFn = OrtStatus* (*)(const OrtEnv*, const char* path, const OrtSessionOptions*, OrtSession** out);
using RunFn = OrtStatus* (*)(OrtSession*, const OrtRunOptions*, const char* const* input_names,
                             const OrtValue* const* inputs, std::size_t input_count, const char* const* output_names,
                             std::size_t output_count, OrtValue** outputs);
using CreateSessionOptionsFn = OrtStatus* (*)(OrtSessionOptions** out);
using SetGraphOptimizationLevelFn = OrtStatus* (*)(OrtSessionOptions*, int level);
using SetThreadsFn = OrtStatus* (*)(OrtSessionOptions*, int threads);
using CreateTensorWithDataFn = OrtStatus* (*)(const OrtMemoryInfo*, void* data, std::size_t bytes,
                                              const std::int64_t* shape, std::size_t rank, int element_type,
                                              OrtValue** out);
using GetTensorMutableDataFn = OrtStatus* (*)(OrtValue*, void** out);
using CreateCpuMemoryInfoFn = OrtStatus* (*)(int allocator_type, int mem_type, OrtMemoryInfo** out);
template <typename T>
using ReleaseFn = void (*)(T*);

constexpr std::size_t kGetErrorMessage = 2, kCreateEnv = 3, kCreateSession = 7, kRun = 9, kCreateSessionOptions = 10,
                      kSetSessionGraphOptimizationLevel = 23, kSetIntraOpNumThreads = 24, kSetInterOpNumThreads = 25,
                      kCreateTensorWithDataAsOrtValue = 49, kGetTensorMutableData = 51, kCreateCpuMemoryInfo = 69,
                      kReleaseEnv = 92, kReleaseStatus = 93, kReleaseMemoryInfo = 94, kReleaseSession = 95,
                      kReleaseValue = 96, kReleaseSessionOptions = 100;
constexpr int kLogError = 3;        // ORT_LOGGING_LEVEL_ERROR
constexpr int kEnableAll = 99;      // ORT_ENABLE_ALL
constexpr int kArenaAllocator = 1;  // OrtArenaAllocator
constexpr int kMemTypeDefault = 0;  // OrtMemTypeDefault
constexpr int kFloat = 1;           // ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT

struct Api {
  const void* const* table = nullptr;
  template <typename F>
  F at(std::size_t index) const {
    return reinterpret_cast<F>(const_cast<void*>(table[index]));
  }
  // Throws the status's message (and releases it) when `status` is not null.
  void check(OrtStatus* status, const char* what) const {
    if (status == nullptr) return;
    std::string message = std::string(what) + ": " + at<GetErrorMessageFn>(kGetErrorMessage)(status);
    at<ReleaseFn<OrtStatus>>(kReleaseStatus)(status);
    throw std::runtime_error(message);
  }
};

using Clock = std::chrono::steady_clock;

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: strata_bench_peers_ort LIBONNXRUNTIME_SO (commands on stdin)\n";
    return 2;
  }
  void* lib = ::dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    std::cerr << "cannot load " << argv[1] << ": " << ::dlerror() << "\n";
    return 1;
  }
  using GetApiBaseFn = const ApiBase* (*)();
  auto* get_base = reinterpret_cast<GetApiBaseFn>(::dlsym(lib, "OrtGetApiBase"));
  if (get_base == nullptr) {
    std::cerr << argv[1] << " exports no OrtGetApiBase\n";
    return 1;
  }
  const ApiBase* base = get_base();
  const std::string version = base->get_version_string();
  // Ask for the library's own API version (its minor version since 1.x); the entries used
  // are in every version's table.
  std::uint32_t api_version = 0;
  {
    const auto dot = version.find('.');
    api_version = static_cast<std::uint32_t>(std::stoul(version.substr(dot + 1)));
  }
  Api api;
  api.table = base->get_api(api_version);
  if (api.table == nullptr) {
    std::cerr << "onnxruntime " << version << " refuses API version " << api_version << "\n";
    return 1;
  }
  try {
    OrtEnv* env = nullptr;
    api.check(api.at<CreateEnvFn>(kCreateEnv)(kLogError, "strata-bench-peers", &env), "CreateEnv");
    OrtMemoryInfo* cpu = nullptr;
    api.check(api.at<CreateCpuMemoryInfoFn>(kCreateCpuMemoryInfo)(kArenaAllocator, kMemTypeDefault, &cpu),
              "CreateCpuMemoryInfo");
    std::map<std::string, OrtSession*> sessions;
    std::string line;
    while (std::getline(std::cin, line)) {
      std::istringstream in(line);
      std::string command;
      in >> command;
      try {
        if (command == "version") {
          std::cout << version << std::endl;
        } else if (command == "load") {
          std::string key, path;
          int threads = 1;
          in >> key >> path >> threads;
          OrtSessionOptions* options = nullptr;
          api.check(api.at<CreateSessionOptionsFn>(kCreateSessionOptions)(&options), "CreateSessionOptions");
          api.check(api.at<SetThreadsFn>(kSetIntraOpNumThreads)(options, threads), "SetIntraOpNumThreads");
          api.check(api.at<SetThreadsFn>(kSetInterOpNumThreads)(options, 1), "SetInterOpNumThreads");
          api.check(api.at<SetGraphOptimizationLevelFn>(kSetSessionGraphOptimizationLevel)(options, kEnableAll),
                    "SetSessionGraphOptimizationLevel");
          OrtSession* session = nullptr;
          OrtStatus* status = api.at<CreateSessionFn>(kCreateSession)(env, path.c_str(), options, &session);
          api.at<ReleaseFn<OrtSessionOptions>>(kReleaseSessionOptions)(options);
          api.check(status, "CreateSession");
          if (sessions.count(key)) api.at<ReleaseFn<OrtSession>>(kReleaseSession)(sessions[key]);
          sessions[key] = session;
          std::cout << "ok" << std::endl;
        } else if (command == "run") {
          std::string key, input_name, output_name;
          int reps = 1;
          in >> key >> input_name >> output_name >> reps;
          std::vector<std::int64_t> shape;
          for (std::int64_t d; in >> d;) shape.push_back(d);
          if (!sessions.count(key)) throw std::runtime_error("no session '" + key + "' (load it first)");
          OrtSession* session = sessions[key];
          std::int64_t n = 1;
          for (const auto d : shape) n *= d;
          std::vector<float> data(static_cast<std::size_t>(n));
          std::mt19937 rng(1);
          std::uniform_real_distribution<float> u(0.0f, 1.0f);
          for (auto& v : data) v = u(rng);
          OrtValue* input = nullptr;
          api.check(api.at<CreateTensorWithDataFn>(kCreateTensorWithDataAsOrtValue)(
                        cpu, data.data(), data.size() * sizeof(float), shape.data(), shape.size(), kFloat, &input),
                    "CreateTensorWithDataAsOrtValue");
          const char* in_names[] = {input_name.c_str()};
          const char* out_names[] = {output_name.c_str()};
          const auto run = api.at<RunFn>(kRun);
          const auto release_value = api.at<ReleaseFn<OrtValue>>(kReleaseValue);
          auto once = [&] {
            OrtValue* output = nullptr;
            api.check(run(session, nullptr, in_names, &input, 1, out_names, 1, &output), "Run");
            void* out_data = nullptr;
            api.check(api.at<GetTensorMutableDataFn>(kGetTensorMutableData)(output, &out_data), "GetTensorMutableData");
            release_value(output);
          };
          once();
          std::vector<double> times;
          times.reserve(static_cast<std::size_t>(reps));
          for (int r = 0; r < reps; ++r) {
            const auto t0 = Clock::now();
            once();
            times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
          }
          release_value(input);
          std::sort(times.begin(), times.end());
          const std::size_t m = times.size();
          const double median = m % 2 ? times[m / 2] : (times[m / 2 - 1] + times[m / 2]) / 2;
          std::printf("%.9g %.9g\n", median, times.front());
          std::fflush(stdout);
        } else if (!command.empty()) {
          throw std::runtime_error("unknown command '" + command + "'");
        }
      } catch (const std::exception& e) {
        std::string message = e.what();
        std::replace(message.begin(), message.end(), '\n', ' ');
        std::cout << "error " << message << std::endl;
      }
    }
    for (auto& [key, session] : sessions) api.at<ReleaseFn<OrtSession>>(kReleaseSession)(session);
    api.at<ReleaseFn<OrtMemoryInfo>>(kReleaseMemoryInfo)(cpu);
    api.at<ReleaseFn<OrtEnv>>(kReleaseEnv)(env);
  } catch (const std::exception& e) {
    std::cerr << "onnxruntime: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
