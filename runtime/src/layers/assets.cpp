// AssetsLayer (strata/plugin/assets.hpp): the out-of-line destructor that anchors its type
// information in libstrata.so, and the asset-name check formats share.
#include "strata/plugin/assets.hpp"

namespace strata {

AssetsLayer::~AssetsLayer() = default;

bool is_safe_asset_name(const std::string& name) noexcept {
  if (name.empty() || name.front() == '/') return false;
  if (name.find('\\') != std::string::npos || name.find('\0') != std::string::npos) return false;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = name.find('/', start);
    const std::string_view part = std::string_view(name).substr(start, end == std::string::npos ? end : end - start);
    if (part.empty() || part == "." || part == "..") return false;
    if (end == std::string::npos) return true;
    start = end + 1;
  }
}

}  // namespace strata
