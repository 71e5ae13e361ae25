/* http_client.c - a libcurl client that counts what it does: every request it makes through
 * the easy interface, the multi interface driven by curl_multi_perform, and the multi
 * interface driven by curl_multi_socket_action on a second thread, against the loopback
 * server of tests/integration/http_server.py. Prints its ground truth as one JSON line:
 * per "METHOD /endpoint" (normalized the way the contract says): requests, errors,
 * new_connections, bytes_received - all as this program saw them.
 * Usage: http_client BASE_URL REFUSED_BASE_URL   (e.g. http://127.0.0.1:4711)
 * Every loop is bounded in count, and every transfer and event loop in time. */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_EPS 32
#define DEADLINE_S 20 /* no event loop runs longer */

struct ep {
	char key[160]; /* "GET /items/{id}" (path relative to its base) */
	int refused;   /* on the refused base */
	unsigned long long requests, errors, new_connections, bytes_received;
};
static struct ep eps[MAX_EPS];
static int n_eps;
static pthread_mutex_t eps_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *base, *refused_base;

static struct ep *ep_get(const char *method, const char *endpoint, int refused)
{
	char key[160];
	snprintf(key, sizeof(key), "%s %s", method, endpoint);
	for (int i = 0; i < n_eps; i++)
		if (!strcmp(eps[i].key, key) && eps[i].refused == refused)
			return &eps[i];
	if (n_eps == MAX_EPS)
		abort();
	snprintf(eps[n_eps].key, sizeof(eps[n_eps].key), "%s", key);
	eps[n_eps].refused = refused;
	return &eps[n_eps++];
}

/* One transfer's private state: what its write callback received. */
struct xfer {
	CURL *h;
	unsigned long long got;
	const char *method, *endpoint;
	int refused;
	char url[512];
};

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	((struct xfer *)arg)->got += size * n;
	return size * n;
}

static void setup(struct xfer *x, CURL *h, const char *method, const char *endpoint,
		  const char *path, int refused)
{
	x->h = h;
	x->got = 0;
	x->method = method;
	x->endpoint = endpoint;
	x->refused = refused;
	snprintf(x->url, sizeof(x->url), "%s%s", refused ? refused_base : base, path);
	curl_easy_setopt(h, CURLOPT_URL, x->url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
}

/* account() : what this program saw of a finished transfer. result_known: 0 when it was
 * removed before completion (counted as an error: it got no response). */
static void account(struct xfer *x, CURLcode rc, int result_known)
{
	long status = 0, connects = 0;
	curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(x->h, CURLINFO_NUM_CONNECTS, &connects);
	pthread_mutex_lock(&eps_lock);
	struct ep *e = ep_get(x->method, x->endpoint, x->refused);
	e->requests++;
	e->errors += rc != CURLE_OK || status >= 400 || (!result_known && status == 0);
	e->new_connections += (unsigned long long)connects;
	e->bytes_received += x->got;
	pthread_mutex_unlock(&eps_lock);
}

static void easy_once(CURL *h, const char *method, const char *endpoint, const char *path,
		      int refused)
{
	struct xfer x;
	setup(&x, h, method, endpoint, path, refused);
	account(&x, curl_easy_perform(h), 1);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- part A/B: the easy interface ---------------------------------------------------- */

static void easy_part(void)
{
	char path[128];
	CURL *h = curl_easy_init();
	for (int i = 0; i < 20; i++)
		easy_once(h, "GET", "/fast", "/fast", 0);
	for (int i = 0; i < 4; i++)
		easy_once(h, "GET", "/slow", "/slow", 0);
	for (int i = 0; i < 10; i++) {
		snprintf(path, sizeof(path), "/items/%d", 1000 + i * 37);
		easy_once(h, "GET", "/items/{id}", path, 0);
	}
	for (int i = 0; i < 5; i++)
		easy_once(h, "GET", "/status/{id}", i < 3 ? "/status/404" : "/status/500", 0);
	/* POST with a body */
	static const char body[100] = "payload";
	for (int i = 0; i < 3; i++) {
		struct xfer x;
		setup(&x, h, "POST", "/submit", "/submit", 0);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)sizeof(body));
		account(&x, curl_easy_perform(h), 1);
	}
	curl_easy_reset(h);
	/* followed redirect: the effective URL is the target */
	for (int i = 0; i < 2; i++) {
		struct xfer x;
		setup(&x, h, "GET", "/target", "/redirect", 0);
		curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
		account(&x, curl_easy_perform(h), 1);
	}
	curl_easy_reset(h);
	/* credentials and a query string that must never reach the trace */
	easy_once(h, "GET", "/private/area", "/private/area?token=T0PS3CRETQ&x=1#fragS3CRET", 0);
	{
		struct xfer x;
		char url[512];
		setup(&x, h, "GET", "/private/area", "/private/area", 0);
		snprintf(url, sizeof(url), "http://alice:pw_S3CRETPW@%s/private/area?key=K3YS3CRET",
			 base + strlen("http://"));
		curl_easy_setopt(h, CURLOPT_URL, url);
		account(&x, curl_easy_perform(h), 1);
	}
	/* connection refused */
	for (int i = 0; i < 2; i++)
		easy_once(h, "GET", "/refused", "/refused", 1);
	curl_easy_cleanup(h);
	/* a new connection for every request */
	for (int i = 0; i < 6; i++) {
		CURL *f = curl_easy_init();
		struct xfer x;
		setup(&x, f, "GET", "/fresh", "/fresh", 0);
		curl_easy_setopt(f, CURLOPT_FRESH_CONNECT, 1L);
		curl_easy_setopt(f, CURLOPT_FORBID_REUSE, 1L);
		account(&x, curl_easy_perform(f), 1);
		curl_easy_cleanup(f);
	}
}

/* ---- part C: multi interface, curl_multi_perform -------------------------------------- */

#define N_MULTI 10

static void multi_part(void)
{
	static struct xfer xs[N_MULTI];
	CURLM *m = curl_multi_init();
	char path[128];
	for (int i = 0; i < N_MULTI; i++) {
		CURL *h = curl_easy_init();
		if (i < 8) {
			snprintf(path, sizeof(path), "/multi/%08x-%04x-4%03x-8%03x-%012x",
				 0xabc00 + i,
				 i, i, i, 0x5eed + i);
			setup(&xs[i], h, "GET", "/multi/{id}", path, 0);
		} else {
			setup(&xs[i], h, "GET", "/mstatus/{id}", "/mstatus/503", 0);
		}
		curl_multi_add_handle(m, h);
	}
	int running = 1, done = 0;
	double end = now_s() + DEADLINE_S;
	while (done < N_MULTI && now_s() < end) {
		curl_multi_perform(m, &running);
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(m, &left))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			for (int i = 0; i < N_MULTI; i++) {
				if (xs[i].h == msg->easy_handle) {
					account(&xs[i], msg->data.result, 1);
					done++;
				}
			}
		}
		if (done < N_MULTI)
			curl_multi_poll(m, NULL, 0, 100, NULL);
	}
	for (int i = 0; i < N_MULTI; i++) {
		curl_multi_remove_handle(m, xs[i].h);
		curl_easy_cleanup(xs[i].h);
	}
	curl_multi_cleanup(m);
	if (done != N_MULTI) {
		fprintf(stderr, "http_client: multi part timed out\n");
		exit(1);
	}
}

/* ---- part D: removed before completion, and completed but never read ---------------- */

static void abandon_part(void)
{
	static struct xfer a, b;
	CURLM *m = curl_multi_init();
	CURL *ha = curl_easy_init(), *hb = curl_easy_init();
	setup(&a, ha, "GET", "/abort", "/abort", 0);
	setup(&b, hb, "GET", "/noread", "/noread", 0);
	curl_multi_add_handle(m, ha);
	curl_multi_add_handle(m, hb);
	/* drive until /noread is done (it is fast); /abort sleeps on the server */
	double end = now_s() + DEADLINE_S;
	int running = 2;
	long status = 0;
	while (now_s() < end) {
		curl_multi_perform(m, &running);
		curl_easy_getinfo(hb, CURLINFO_RESPONSE_CODE, &status);
		if (status && running <= 1)
			break;
		curl_multi_poll(m, NULL, 0, 20, NULL);
	}
	/* never call curl_multi_info_read: remove both (the /abort one mid-transfer) */
	curl_multi_remove_handle(m, ha);
	account(&a, CURLE_OK, 0);
	curl_multi_remove_handle(m, hb);
	account(&b, CURLE_OK, 0);
	curl_easy_cleanup(ha);
	curl_easy_cleanup(hb);
	curl_multi_cleanup(m);
}

/* ---- part E: multi interface, curl_multi_socket_action on its own thread ------------- */

#define N_SOCK 5
#define MAX_FDS 16

struct sock_loop {
	CURLM *m;
	struct pollfd fds[MAX_FDS];
	int n_fds;
	long timeout_ms; /* -1: none */
};

static int on_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
	(void)e;
	(void)socketp;
	struct sock_loop *l = userp;
	int i;
	for (i = 0; i < l->n_fds && l->fds[i].fd != s; i++)
		;
	if (what == CURL_POLL_REMOVE) {
		if (i < l->n_fds)
			l->fds[i] = l->fds[--l->n_fds];
		return 0;
	}
	if (i == l->n_fds) {
		if (l->n_fds == MAX_FDS)
			abort();
		l->n_fds++;
	}
	l->fds[i].fd = s;
	l->fds[i].events = (short)(((what & CURL_POLL_IN) ? POLLIN : 0) |
				   ((what & CURL_POLL_OUT) ? POLLOUT : 0));
	return 0;
}

static int on_timer(CURLM *m, long timeout_ms, void *userp)
{
	(void)m;
	((struct sock_loop *)userp)->timeout_ms = timeout_ms;
	return 0;
}

static unsigned sock_tid;

static void *sock_thread(void *arg)
{
	(void)arg;
	static struct xfer xs[N_SOCK];
	struct sock_loop l = {.timeout_ms = -1};
	char path[128];
	sock_tid = (unsigned)syscall(SYS_gettid);
	l.m = curl_multi_init();
	curl_multi_setopt(l.m, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(l.m, CURLMOPT_SOCKETDATA, &l);
	curl_multi_setopt(l.m, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(l.m, CURLMOPT_TIMERDATA, &l);
	for (int i = 0; i < N_SOCK; i++) {
		CURL *h = curl_easy_init();
		snprintf(path, sizeof(path), "/sock/%016llx%016llx", 0xfeedfacecafebeefull + i,
			 0x0123456789abcdefull * (i + 1));
		setup(&xs[i], h, "GET", "/sock/{id}", path, 0);
		curl_multi_add_handle(l.m, h);
	}
	int running = N_SOCK, done = 0;
	double end = now_s() + DEADLINE_S;
	while (done < N_SOCK && now_s() < end) {
		long t = l.timeout_ms < 0 || l.timeout_ms > 100 ? 100 : l.timeout_ms;
		int n = poll(l.fds, (nfds_t)l.n_fds, (int)t);
		if (n <= 0) {
			l.timeout_ms = -1;
			curl_multi_socket_action(l.m, CURL_SOCKET_TIMEOUT, 0, &running);
		} else {
			for (int i = 0; i < l.n_fds; i++) {
				short re = l.fds[i].revents;
				int ev = ((re & POLLIN) ? CURL_CSELECT_IN : 0) |
					 ((re & POLLOUT) ? CURL_CSELECT_OUT : 0) |
					 ((re & (POLLERR | POLLHUP)) ? CURL_CSELECT_ERR : 0);
				if (ev)
					curl_multi_socket_action(l.m, l.fds[i].fd, ev, &running);
			}
		}
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(l.m, &left))) {
			for (int i = 0; msg->msg == CURLMSG_DONE && i < N_SOCK; i++) {
				if (xs[i].h == msg->easy_handle) {
					account(&xs[i], msg->data.result, 1);
					done++;
				}
			}
		}
	}
	for (int i = 0; i < N_SOCK; i++) {
		curl_multi_remove_handle(l.m, xs[i].h);
		curl_easy_cleanup(xs[i].h);
	}
	curl_multi_cleanup(l.m);
	if (done != N_SOCK) {
		fprintf(stderr, "http_client: socket_action part timed out\n");
		exit(1);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: http_client BASE_URL REFUSED_BASE_URL\n");
		return 2;
	}
	base = argv[1];
	refused_base = argv[2];
	curl_global_init(CURL_GLOBAL_DEFAULT);
	easy_part();
	multi_part();
	abandon_part();
	pthread_t t;
	pthread_create(&t, NULL, sock_thread, NULL);
	pthread_join(t, NULL);
	curl_global_cleanup();

	printf("{\"sites\": {}, \"main_thread\": %ld, \"socket_thread\": %u, "
	       "\"secrets\": [\"T0PS3CRETQ\", \"fragS3CRET\", \"pw_S3CRETPW\", \"K3YS3CRET\", "
	       "\"alice\"], \"http\": [",
	       (long)syscall(SYS_gettid), sock_tid);
	for (int i = 0; i < n_eps; i++) {
		char method[16], endpoint[144];
		sscanf(eps[i].key, "%15s %143s", method, endpoint);
		printf("%s{\"method\": \"%s\", \"endpoint\": \"%s%s\", \"requests\": %llu, "
		       "\"errors\": %llu, \"new_connections\": %llu, \"bytes_received\": %llu}",
		       i ? ", " : "", method, eps[i].refused ? refused_base : base, endpoint,
		       eps[i].requests, eps[i].errors, eps[i].new_connections,
		       eps[i].bytes_received);
	}
	printf("]}\n");
	return 0;
}
