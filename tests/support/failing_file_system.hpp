// A file system for commit-point tests: delegates to the real one and throws IOError on
// its Nth call, so a test can fail a save at every step and check what is left on disk.
#pragma once

#include <atomic>
#include <filesystem>
#include <string_view>

#include "strata/error.hpp"
#include "strata/plugin/file_system.hpp"

namespace strata::test_support {

class FailingFileSystem final : public FileSystem {
 public:
  FailingFileSystem(FileSystem& real, int fail_at) : real_(real), fail_at_(fail_at) {}
  void write_file(const std::filesystem::path& p, std::string_view data) override {
    tick("write_file");
    real_.write_file(p, data);
  }
  void rename(const std::filesystem::path& a, const std::filesystem::path& b) override {
    tick("rename");
    real_.rename(a, b);
  }
  void exchange(const std::filesystem::path& a, const std::filesystem::path& b) override {
    tick("exchange");
    real_.exchange(a, b);
  }
  void remove_all(const std::filesystem::path& p) override {
    tick("remove_all");
    real_.remove_all(p);
  }
  void create_directories(const std::filesystem::path& p) override {
    tick("create_directories");
    real_.create_directories(p);
  }
  void sync_directory(const std::filesystem::path& d) override {
    tick("sync_directory");
    real_.sync_directory(d);
  }
  // Calls made so far (the failing one included).
  int calls() const { return calls_.load(); }

 private:
  void tick(const char* what) {
    const int call = ++calls_;
    if (call == fail_at_) STRATA_THROW(IOError, "injected failure at call ", call, " (", what, ")");
  }
  FileSystem& real_;
  int fail_at_;
  std::atomic<int> calls_{0};  // parallel shard writes call in from several threads
};

}  // namespace strata::test_support
