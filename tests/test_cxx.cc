// SPDX-License-Identifier: ISC
// The public header compiles as C++ (-Wall -Wextra -Werror -pedantic) and
// its functions link from C++.
#include <criterion/criterion.h>

#include "floodgate.h"

Test(cxx, header_compiles_and_links_from_cplusplus)
{
	fg_client *c = nullptr;
	fg_decision d = {};

	cr_expect_eq(fg_open("fgtest-cxx-does-not-exist", 0, &c), FG_ENOSEG);
	cr_expect_eq(c, nullptr);
	cr_expect_eq(fg_allow(nullptr, "r", "k", 1, &d), FG_EINVAL);
	cr_expect_str_eq(fg_strerror(FG_ENORULE), "no such rule");
}
