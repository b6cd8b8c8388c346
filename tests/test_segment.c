#include "tests/helpers.h"
Test(segment, placeholder) { cr_assert(1); }
