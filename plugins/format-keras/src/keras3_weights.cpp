// Implementation pending (helper "kweights"): see keras3_weights.hpp.
#include "keras3_weights.hpp"
