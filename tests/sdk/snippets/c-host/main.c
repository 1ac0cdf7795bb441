/* The C host of docs/EMBEDDING.md: its "## C" block (embed.inc) as the body of main. */
#include <stdio.h>

#include <strata/c_api.h>

int main(void) {
#include "embed.inc"
  return 0;
}
