// The file-system seam formats write through. The real implementation does what it
// says; tests install one that fails on the Nth call or truncates writes, to prove that
// a failed or interrupted save leaves the previous file loadable.
#pragma once

#include "strata/export.hpp"
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

STRATA_API_BEGIN

namespace strata {

class FileSystem {
 public:
  virtual ~FileSystem();
  // Creates (truncating) `path` and writes `data` to it, then fsyncs it. IOError on failure.
  virtual void write_file(const std::filesystem::path& path, std::string_view data) = 0;
  virtual void rename(const std::filesystem::path& from, const std::filesystem::path& to) = 0;
  // Atomically exchanges two existing paths (renameat2 RENAME_EXCHANGE).
  virtual void exchange(const std::filesystem::path& a, const std::filesystem::path& b) = 0;
  virtual void remove_all(const std::filesystem::path& path) = 0;
  virtual void create_directories(const std::filesystem::path& path) = 0;
  // fsync of a directory, so renames in it are durable.
  virtual void sync_directory(const std::filesystem::path& dir) = 0;
};

// The file system formats use (the real one unless a test replaced it).
FileSystem& file_system();
// Replaces the file system while alive (tests). Not thread-safe against concurrent saves.
class ScopedFileSystem {
 public:
  explicit ScopedFileSystem(std::shared_ptr<FileSystem> fs);
  ~ScopedFileSystem();
  ScopedFileSystem(const ScopedFileSystem&) = delete;
  ScopedFileSystem& operator=(const ScopedFileSystem&) = delete;

 private:
  std::shared_ptr<FileSystem> previous_;
};

// FileSystem::write_file of the concatenation of `pieces` (create, write, fsync). The real
// file system writes the pieces one after another without concatenating them (a save of a
// large model then holds no second copy); a replaced one (tests) receives one write_file
// call with the concatenation, so fault injection sees the same calls either way.
void write_file_pieces(const std::filesystem::path& path, std::span<const std::string_view> pieces);

// Writes `data` to a temporary sibling of `path`, fsyncs it, renames it over `path` and
// fsyncs the directory: the one commit point of a single-file save. On failure the
// temporary is removed and `path` is untouched. With overwrite false an existing `path`
// is an IOError.
void write_file_atomically(const std::filesystem::path& path, std::string_view data, bool overwrite = true);
// The same for the concatenation of `pieces`, written without concatenating them
// (write_file_pieces): a large file made of borrowed buffers costs no copy.
void write_file_atomically(const std::filesystem::path& path, std::span<const std::string_view> pieces,
                           bool overwrite = true);

// The one commit point of a directory save (a SavedModel, Keras 3's unzipped archive):
// `fill` writes the new contents into a temporary sibling directory it is given (through
// file_system()), which is then synced and swapped in with one rename (or, when `dir`
// exists, one RENAME_EXCHANGE; the old contents are removed afterwards), so `dir` always
// holds one complete save, old or new, even if the process dies at any point. Missing parent
// directories are created; temporaries of earlier saves whose process died are removed. On
// failure the temporary is removed and `dir` is untouched. `what` names the kind of save in
// messages ("SavedModel"). With overwrite false an existing `dir` is an IOError.
void write_directory_atomically(const std::filesystem::path& dir, const std::function<void(const std::filesystem::path&)>& fill,
                                bool overwrite, std::string_view what);

// Reads a whole file (at most `max_bytes`; FormatError naming the file when larger).
// IOError naming the file when it cannot be read.
std::string read_file(const std::filesystem::path& path, std::size_t max_bytes = std::size_t{1} << 33);

}  // namespace strata

STRATA_API_END
