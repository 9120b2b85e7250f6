// SPDX-License-Identifier: MIT
/* A shared object that is no hamr module: it exports a function, but no
 * hamr_module_entry. Loading it must fail with HAMR_EMODULE saying that
 * the entry point is missing. */
__attribute__((visibility("default"))) int hr_no_entry_answer(void);
int hr_no_entry_answer(void)
{
	return 42;
}
