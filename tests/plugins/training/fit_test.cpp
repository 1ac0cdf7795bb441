// End-to-end training tests (written below).
#include <gtest/gtest.h>
