/* fake_curl.c - a stand-in libcurl for measuring the curl hook alone: every function the
 * hook interposes or calls returns at once with plausible results (a finished GET of
 * http://127.0.0.1:8080/items/42?page=1, HTTP 200). curl_bench linked with it instead of
 * libcurl (curl_bench_stub) spends a few ns per "transfer" natively, so with the preload
 * the difference is the hook's own cost per transfer. Not a test double of behaviour:
 * only of cost. */
#define CURL_DISABLE_DEPRECATION
#define CURL_DISABLE_TYPECHECK /* we define the functions its macros wrap */
#include <curl/curl.h>
#include <stdarg.h>
#include <string.h>

static char easy_dummy, multi_dummy;
static CURLMsg done_msg;
static int pending; /* a DONE message waits for curl_multi_info_read */

CURL *curl_easy_init(void) { return &easy_dummy; }
void curl_easy_cleanup(CURL *h) { (void)h; }
CURLcode curl_global_init(long flags) { (void)flags; return CURLE_OK; }
void curl_global_cleanup(void) {}

CURLcode curl_easy_setopt(CURL *h, CURLoption opt, ...)
{
	(void)h;
	(void)opt;
	return CURLE_OK;
}

CURLcode curl_easy_perform(CURL *h)
{
	(void)h;
	return CURLE_OK;
}

CURLcode curl_easy_getinfo(CURL *h, CURLINFO info, ...)
{
	(void)h;
	va_list ap;
	va_start(ap, info);
	void *p = va_arg(ap, void *);
	va_end(ap);
	switch (info & CURLINFO_TYPEMASK) {
	case CURLINFO_STRING:
		*(const char **)p = info == CURLINFO_EFFECTIVE_METHOD ?
					    "GET" : "http://127.0.0.1:8080/items/42?page=1";
		return CURLE_OK;
	case CURLINFO_LONG:
		*(long *)p = info == CURLINFO_RESPONSE_CODE ? 200 : 0;
		return CURLE_OK;
	case CURLINFO_OFF_T:
		*(curl_off_t *)p = 100 + (info & 0xff);
		return CURLE_OK;
	case CURLINFO_DOUBLE:
		*(double *)p = 0.0001;
		return CURLE_OK;
	default:
		return CURLE_UNKNOWN_OPTION;
	}
}

CURLM *curl_multi_init(void) { return &multi_dummy; }
CURLMcode curl_multi_cleanup(CURLM *m) { (void)m; return CURLM_OK; }

CURLMcode curl_multi_add_handle(CURLM *m, CURL *h)
{
	(void)m;
	done_msg.msg = CURLMSG_DONE;
	done_msg.easy_handle = h;
	done_msg.data.result = CURLE_OK;
	return CURLM_OK;
}

CURLMcode curl_multi_perform(CURLM *m, int *running)
{
	(void)m;
	pending = 1;
	*running = 0;
	return CURLM_OK;
}

CURLMcode curl_multi_poll(CURLM *m, struct curl_waitfd *fds, unsigned n, int ms, int *ret)
{
	(void)m, (void)fds, (void)n, (void)ms, (void)ret;
	return CURLM_OK;
}

CURLMsg *curl_multi_info_read(CURLM *m, int *left)
{
	(void)m;
	*left = 0;
	if (!pending)
		return NULL;
	pending = 0;
	return &done_msg;
}

CURLMcode curl_multi_remove_handle(CURLM *m, CURL *h)
{
	(void)m, (void)h;
	return CURLM_OK;
}

curl_version_info_data *curl_version_info(CURLversion v)
{
	(void)v;
	static curl_version_info_data d;
	d.age = CURLVERSION_NOW;
	d.version = "7.88.1-fake";
	d.version_num = 0x075801;
	return &d;
}
