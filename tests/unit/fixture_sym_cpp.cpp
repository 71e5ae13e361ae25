/* fixture_sym_cpp.cpp - a C++ method with a known call site for test_symbolize.c, built
 * twice as a shared object: with -g -O2 (the name comes from DWARF) and with -O2 only (the
 * name comes from the ELF symbol table). Either way the mangled name is
 * _ZN2ns5Klass6methodEi and the symbolizer must answer "ns::Klass::method(int)". */

#if defined(__clang__)
#define FX_NOINLINE __attribute__((noinline))
#else
#define FX_NOINLINE __attribute__((noinline, noipa))
#endif
#define FX_EXPORT __attribute__((visibility("default")))

extern "C" {
FX_EXPORT void *fx_cpp_ret;
FX_EXPORT int fx_cpp_line;
FX_EXPORT volatile int fx_cpp_sink;

FX_EXPORT FX_NOINLINE void fx_cpp_record(void)
{
	fx_cpp_ret = __builtin_return_address(0);
}
}

namespace ns {
class FX_EXPORT Klass {
public:
	int method(int x);
};

FX_NOINLINE int Klass::method(int x)
{
	fx_cpp_line = __LINE__, fx_cpp_record();
	return x + fx_cpp_sink;
}
} // namespace ns

extern "C" FX_EXPORT int fx_cpp_entry(int x)
{
	ns::Klass k;

	return k.method(x);
}
