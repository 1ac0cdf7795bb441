// Implementation pending (helper "kzip"): see zip_archive.hpp.
#include "zip_archive.hpp"
