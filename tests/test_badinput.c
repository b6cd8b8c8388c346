#include "tests/helpers.h"
Test(badinput, placeholder) { cr_assert(1); }
