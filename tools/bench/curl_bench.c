/* curl_bench.c - the per-transfer cost of the curl hook: N transfers of a small file://
 * URL (no network, ~10 us each, so the hook's share is visible), through curl_easy_perform
 * or through a multi handle (add, perform until done, info_read, remove). Prints
 * "MODE N ns_per_transfer". Mode getinfo times, after one transfer, the 17
 * curl_easy_getinfo calls the hook makes per transfer (ns per set). tools/bench/curl.sh
 * runs it with and without the preload.
 * Usage: curl_bench easy|multi|getinfo N URL */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static size_t sink(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	if (argc != 4)
		return 2;
	int n = atoi(argv[2]);
	int multi = !strcmp(argv[1], "multi");
	curl_global_init(CURL_GLOBAL_DEFAULT);
	CURL *h = curl_easy_init();
	CURLM *m = curl_multi_init();
	curl_easy_setopt(h, CURLOPT_URL, argv[3]);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
	int failed = 0;
	if (!strcmp(argv[1], "getinfo")) {
		static const CURLINFO infos[] = {
			CURLINFO_EFFECTIVE_URL,	      CURLINFO_EFFECTIVE_METHOD,
			CURLINFO_RESPONSE_CODE,	      CURLINFO_NUM_CONNECTS,
			CURLINFO_REDIRECT_COUNT,      CURLINFO_NAMELOOKUP_TIME_T,
			CURLINFO_CONNECT_TIME_T,      CURLINFO_APPCONNECT_TIME_T,
			CURLINFO_PRETRANSFER_TIME_T,  CURLINFO_STARTTRANSFER_TIME_T,
			CURLINFO_TOTAL_TIME_T,	      CURLINFO_REDIRECT_TIME_T,
			CURLINFO_SIZE_DOWNLOAD_T,     CURLINFO_SIZE_UPLOAD_T,
		};
		union {
			char *s;
			long l;
			curl_off_t o;
		} v;
		failed = curl_easy_perform(h) != CURLE_OK;
		double g0 = now_ns();
		for (int i = 0; i < n; i++)
			for (size_t k = 0; k < sizeof(infos) / sizeof(infos[0]); k++)
				failed += curl_easy_getinfo(h, infos[k], &v) != CURLE_OK;
		printf("getinfo %d %.0f\n", n, (now_ns() - g0) / n);
		return failed ? 1 : 0;
	}
	double t0 = now_ns();
	for (int i = 0; i < n; i++) {
		if (!multi) {
			failed += curl_easy_perform(h) != CURLE_OK;
			continue;
		}
		int running = 1, left, rounds = 0;
		curl_multi_add_handle(m, h);
		while (running && rounds++ < 1000) {
			curl_multi_perform(m, &running);
			if (running)
				curl_multi_poll(m, NULL, 0, 10, NULL);
		}
		CURLMsg *msg;
		while ((msg = curl_multi_info_read(m, &left)))
			failed += msg->msg == CURLMSG_DONE && msg->data.result != CURLE_OK;
		curl_multi_remove_handle(m, h);
	}
	double t1 = now_ns();
	printf("%s %d %.0f\n", argv[1], n, (t1 - t0) / n);
	curl_multi_cleanup(m);
	curl_easy_cleanup(h);
	curl_global_cleanup();
	return failed ? 1 : 0;
}
