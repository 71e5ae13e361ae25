/* curl_plugin.c - a plugin linked with the other libcurl build (libcurl-gnutls.so.4), for
 * curl_flavours.c: its transfers, easy and multi, must reach its own libcurl although the
 * preload interposes the functions of both builds. */
#include <curl/curl.h>

static size_t sink(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	*(unsigned long long *)arg += size * n;
	return size * n;
}

/* plugin_fetch() : GET url once with curl_easy_perform and once through a multi handle.
 * @return the number of transfers that got HTTP 200. */
int plugin_fetch(const char *url, unsigned long long *bytes)
{
	int ok = 0;
	long status = 0;
	CURL *h = curl_easy_init();
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, bytes);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
	if (curl_easy_perform(h) == CURLE_OK &&
	    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK && status == 200)
		ok++;
	CURLM *m = curl_multi_init();
	curl_multi_add_handle(m, h);
	int running = 1, rounds = 0;
	while (running && rounds++ < 200) { /* bounded: 200 x 50 ms */
		curl_multi_perform(m, &running);
		if (running)
			curl_multi_poll(m, NULL, 0, 50, NULL);
	}
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(m, &left)))
		if (msg->msg == CURLMSG_DONE && msg->data.result == CURLE_OK &&
		    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK &&
		    status == 200)
			ok++;
	curl_multi_remove_handle(m, h);
	curl_multi_cleanup(m);
	curl_easy_cleanup(h);
	return ok;
}

const char *plugin_curl_version(void)
{
	return curl_version();
}
