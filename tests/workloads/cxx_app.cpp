// cxx_app.cpp - C++ allocations through new/new[]/std::vector, with leaks in namespaced
// member functions, so that the report shows demangled names. Prints its ground truth
// (truth.h) keyed by the demangled function that allocates.
#include <cstdio>
#include <cstring>
#include <vector>

extern "C" {
#include "truth.h"
}

namespace shop {

struct Item {
	int id;
	char name[52];
	explicit Item(int i) : id(i) { std::memset(name, 0, sizeof(name)); }
};

class Cart {
public:
	__attribute__((noinline)) void leak_item(int id)
	{
		Item *it = new Item(id); // never deleted
		keep(it);
		truth_alloc("shop::Cart::leak_item(int)", sizeof(Item));
		truth_leak("shop::Cart::leak_item(int)", sizeof(Item));
	}
	__attribute__((noinline)) void churn(int n)
	{
		for (int i = 0; i < n; i++) {
			int *a = new int[16];
			keep(a);
			truth_alloc("shop::Cart::churn(int)", 16 * sizeof(int));
			delete[] a;
		}
	}
};

} // namespace shop

int main()
{
	shop::Cart cart;
	for (int i = 0; i < 6; i++)
		cart.leak_item(i);
	cart.churn(100);
	truth_print(stdout, nullptr);
	return 0;
}
