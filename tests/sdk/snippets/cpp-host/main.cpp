// The C++ host of docs/EMBEDDING.md: its "## C++" block (embed.inc) as the body of main.
#include <strata/strata.hpp>

#include <iostream>
#include <memory>
#include <vector>

int main() {
#include "embed.inc"
  return y.empty() ? 1 : 0;
}
