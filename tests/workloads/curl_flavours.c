/* curl_flavours.c - two libcurl builds in one process: this program is linked with
 * libcurl.so.4 (OpenSSL) and dlopens (RTLD_LOCAL) a plugin linked with libcurl-gnutls.so.4,
 * the way Debian lets both coexist. The preload's unversioned curl_* definitions interpose
 * both builds; each call must be forwarded to its caller's build (preload/hook_curl.c),
 * else a handle of one build reaches the other and the program crashes.
 * Usage: curl_flavours PLUGIN.so URL ROUNDS. Prints its ground truth: requests made and
 * how many got HTTP 200, and both builds' version strings. */
#include <curl/curl.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t sink(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	*(unsigned long long *)arg += size * n;
	return size * n;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: curl_flavours PLUGIN.so URL ROUNDS\n");
		return 2;
	}
	void *pl = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (!pl) {
		fprintf(stderr, "curl_flavours: %s\n", dlerror());
		return 2;
	}
	int (*fetch)(const char *, unsigned long long *) =
		(int (*)(const char *, unsigned long long *))dlsym(pl, "plugin_fetch");
	const char *(*version)(void) = (const char *(*)(void))dlsym(pl, "plugin_curl_version");
	if (!fetch || !version)
		return 2;
	int rounds = atoi(argv[3]), ok = 0, requests = 0;
	unsigned long long bytes = 0;
	for (int i = 0; i < rounds && i < 100; i++) {
		long status = 0;
		CURL *h = curl_easy_init();
		curl_easy_setopt(h, CURLOPT_URL, argv[2]);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, &bytes);
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
		if (curl_easy_perform(h) == CURLE_OK &&
		    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK &&
		    status == 200)
			ok++;
		curl_easy_cleanup(h);
		ok += fetch(argv[2], &bytes);
		requests += 3;
	}
	printf("{\"sites\": {}, \"requests\": %d, \"ok\": %d, \"bytes_received\": %llu, "
	       "\"main_gnutls\": %d, \"plugin_gnutls\": %d}\n",
	       requests, ok, bytes, strstr(curl_version(), "GnuTLS") != NULL,
	       strstr(version(), "GnuTLS") != NULL);
	return 0;
}
