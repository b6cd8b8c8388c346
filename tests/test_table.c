#include "tests/helpers.h"
Test(table, placeholder) { cr_assert(1); }
