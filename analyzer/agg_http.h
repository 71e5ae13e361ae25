/* agg_http.h - HTTP transfer analysis (agg_http.c): every ITF_EV_HTTP record of the curl
 * hook, grouped by method and normalized endpoint once the trace is read, with latency
 * percentiles, summed phase times, error kinds, the slowest requests and findings. */
#ifndef INTERCEPT_AGG_HTTP_H
#define INTERCEPT_AGG_HTTP_H

#include <stdbool.h>
#include <stdint.h>

#include "order.h"
#include "trace.h"
#include "util.h"

/* One transfer, as recorded (times converted at the end, when the clock fit is known). */
struct http_req {
	uint64_t end_ts;     /* raw clock: when the end was seen */
	uint64_t wall_ticks; /* raw clock units from start to end; 0 when the start was not seen */
	uint64_t dur_ns;     /* latency (agg_http_finish): libcurl's total time, else wall time */
	uint64_t start_ns;   /* since the start of tracing (agg_http_finish) */
	uint64_t end_ns;     /* when its end was seen, since the start of tracing (finish) */
	uint64_t dns_us, connect_us, tls_us, ttfb_us, transfer_us, redirect_us, total_us;
	uint64_t bytes_down, bytes_up, connects, redirects;
	uint32_t group;	     /* index into agg_http.groups; endpoint index after finish */
	uint32_t tid, stack, status, result, flags;
};

/* (url string id, method string id): requests are grouped by ids while the trace is read,
 * because string definitions may arrive after their first use. */
struct http_group {
	uint32_t url, method;
	uint32_t endpoint; /* index into agg_http.eps (agg_http_finish) */
};

#define HTTP_ERR_KINDS 8 /* distinct (status, CURLcode) error kinds kept per endpoint */

struct http_err_kind {
	uint32_t status; /* HTTP status (0: none) */
	uint32_t result; /* CURLcode */
	bool aborted;	 /* removed before completion, result unknown */
	uint64_t count;
};

struct http_endpoint {
	char *method;	/* "GET"...; "?" when libcurl did not say */
	char *endpoint; /* the normalized URL (include/intercept/url.h) */
	char *host;	/* scheme://host:port of it */
	uint64_t requests, errors;
	uint64_t total_ns, p50_ns, p95_ns, p99_ns, max_ns;
	uint64_t dns_ns, connect_ns, tls_ns, ttfb_ns, transfer_ns, redirect_ns;
	uint64_t bytes_received, bytes_sent;
	uint64_t new_connections; /* CURLINFO_NUM_CONNECTS summed */
	uint64_t fresh_requests;  /* requests that opened at least one connection */
	uint64_t redirects;
	uint64_t multi_requests;  /* driven through the multi interface */
	uint32_t stack;		  /* the calling stack that spent the most time here */
	struct http_err_kind err[HTTP_ERR_KINDS];
	uint32_t n_err;
	uint64_t err_other; /* errors of kinds beyond HTTP_ERR_KINDS */
};

enum http_finding_kind {
	HTTP_F_ERRORS,		/* an endpoint whose requests fail */
	HTTP_F_CONNECTION_SETUP, /* no connection reuse, or set-up dominates */
	HTTP_F_SLOW_DNS,	/* name lookups take a large share */
	HTTP_F_SERIAL,		/* many sequential requests from one thread to one host */
};

struct http_finding {
	enum http_finding_kind kind;
	int64_t endpoint; /* index into eps, or -1 (serial findings name a host) */
	char *host;	  /* HTTP_F_SERIAL: the host; else NULL */
	uint32_t tid;	  /* HTTP_F_SERIAL: the thread; else 0 */
	uint32_t stack;	  /* where it comes from (0: none) */
	uint64_t count;	  /* requests concerned */
	uint64_t ns;	  /* time concerned (errors: 0) */
	char *message;	  /* one sentence with its evidence (owned) */
};

#define HTTP_SLOWEST 5 /* slowest single requests reported */

struct agg_http {
	VEC(struct http_req) reqs; /* in merged (end) order */
	struct hmap group_of;	   /* url << 32 | method -> index into groups */
	VEC(struct http_group) groups;
	VEC(struct http_endpoint) eps;	     /* sorted by total_ns, largest first */
	VEC(struct http_finding) findings;   /* errors, set-up, DNS, serial; each by weight */
	uint32_t slowest[HTTP_SLOWEST];	     /* indexes into reqs, slowest first */
	uint32_t n_slowest;
	uint64_t requests, errors, total_ns;
	uint64_t no_start;  /* transfers whose start was not seen */
	uint64_t no_result; /* removed before the application read their result */
	uint64_t url_cut;   /* URLs cut at the hook's limit */
	bool query_kept;    /* recorded with INTERCEPT_URL_QUERY=1 */
};

int agg_http_init(struct agg_http *a);
void agg_http_free(struct agg_http *a);

/*! agg_http_event() : an ord_consumer callback: ITF_EV_HTTP records; others ignored.
 * @return 0, or AZ_ECORRUPT for a record too short for its fields, AZ_ENOMEM. */
int agg_http_event(void *ctx, const struct ord_event *e);

/*! agg_http_finish() : after the last event and the clock fit (tr_finish_clock): resolve
 * URLs, group by endpoint, compute durations, percentiles, the slowest requests and the
 * findings. @return 0 or AZ_ENOMEM. */
int agg_http_finish(struct agg_http *a, const struct trace *t);

struct http_stack_cost {
	uint32_t stack;
	uint64_t requests, ns; /* requests made from the stack, their summed latency */
};

/*! agg_http_by_stack() : requests and their latency summed by calling stack, most time
 * first (ties: more requests, then the smaller stack id). *out is malloc'ed (caller frees).
 * @return 0 or AZ_ENOMEM. */
int agg_http_by_stack(const struct agg_http *a, struct http_stack_cost **out, size_t *n);

/*! http_curl_code_name() : "CURLE_COULDNT_CONNECT" for 7, ...; NULL for codes it does not
 * know. */
const char *http_curl_code_name(uint32_t code);

#endif /* INTERCEPT_AGG_HTTP_H */
