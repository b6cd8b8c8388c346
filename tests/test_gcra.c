#include "tests/helpers.h"
Test(gcra, placeholder) { cr_assert(1); }
