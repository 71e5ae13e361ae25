/* fixture_sym.c - code with known call sites for test_symbolize.c. Built with -g -O2 as a
 * shared object that the test dlopen()s. Each entry point makes one call to fx_record(),
 * which saves its return address in fx_ret, and stores the __LINE__ of that call (and of
 * the call sites of the inlined functions around it) so the test knows what the
 * symbolizer must answer. Never: anything else. */

#if defined(__clang__)
#define FX_NOINLINE __attribute__((noinline))
#else
/* noipa: no inlining, cloning or IPA-split, so the names and call sites stay as written. */
#define FX_NOINLINE __attribute__((noinline, noipa))
#endif
#define FX_EXPORT __attribute__((visibility("default")))

/* Stores the line of the macro's use, then makes the call: both on one source line. */
#define FX_CALL_AT(line_var, call) ((line_var) = __LINE__, call)

FX_EXPORT void *fx_ret;
FX_EXPORT int fx_line_plain, fx_line_inner, fx_line_mid, fx_line_outer;
/* Read after every call so that no call is a tail call (a jump has no return address). */
FX_EXPORT volatile int fx_sink;

FX_EXPORT FX_NOINLINE void fx_record(void)
{
	fx_ret = __builtin_return_address(0);
}

/* A plain out-of-line function: one frame. */
FX_EXPORT FX_NOINLINE int fx_plain(int x)
{
	FX_CALL_AT(fx_line_plain, fx_record());
	return x + fx_sink;
}

static inline __attribute__((always_inline)) int fx_inner(int x)
{
	FX_CALL_AT(fx_line_inner, fx_record());
	return x + fx_sink;
}

static inline __attribute__((always_inline)) int fx_mid(int x)
{
	int r = FX_CALL_AT(fx_line_mid, fx_inner(x + 1));

	return r + fx_sink;
}

/* Two levels of forced inlining: three frames, fx_inner innermost. */
FX_EXPORT FX_NOINLINE int fx_outer(int x)
{
	int r = FX_CALL_AT(fx_line_outer, fx_mid(x * 2));

	return r + fx_sink;
}
