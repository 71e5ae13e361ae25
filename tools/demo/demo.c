/* demo.c - the bundled demo program that tools/demo.sh profiles: a small "order service"
 * with worker threads. It has a cache that grows and stops (a plateau), a leak in an error
 * path, temporary buffers in a hot loop, realloc-grown strings, and a cache lock held while
 * formatting (so the workers queue on it): the things the report is built to find. It then
 * asks an "inventory service" about some orders over HTTP with libcurl, one request after
 * another, from a slow pricing endpoint and one that answers 404 for some items. The
 * inventory service is a few lines below, on a thread of its own listening on 127.0.0.1
 * (loopback only, a kernel-chosen port). At the end it writes the orders to an SQLite
 * database (argv[1], default demo.db) and builds a per-customer summary the slow way: a
 * query per customer (N+1) on a column without an index (a full scan each time). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WORKERS 4
#define ORDERS 20000

struct order {
	int id;
	char *customer;
	double total;
};

/* A cache of customer names keyed by id % CACHE: fills up, then stays. */
#define CACHE 512
static char *cache[CACHE];
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

static void *volatile sink;

__attribute__((noinline)) static char *format_line(const struct order *o)
{
	/* a temporary buffer, freed by the caller right away */
	char *buf = malloc(128);
	snprintf(buf, 128, "order %d for %s: %.2f", o->id, o->customer, o->total);
	return buf;
}

__attribute__((noinline)) static char *customer_name(int id)
{
	char key[64];
	pthread_mutex_lock(&cache_lock);
	/* the key is built while the lock is held: work that belongs outside it */
	for (int i = 0; i < 24; i++)
		snprintf(key, sizeof(key), "customer/%d/%d", id % CACHE, i);
	sink = key[0] ? NULL : key;
	char **slot = &cache[id % CACHE];
	if (!*slot) {
		*slot = malloc(32);
		snprintf(*slot, 32, "customer-%d", id % CACHE);
	}
	char *name = *slot;
	pthread_mutex_unlock(&cache_lock);
	return name;
}

__attribute__((noinline)) static char *append_note(char *notes, size_t *len, const char *s)
{
	size_t n = strlen(s);
	notes = realloc(notes, *len + n + 1); /* grows one note at a time */
	memcpy(notes + *len, s, n + 1);
	*len += n;
	return notes;
}

__attribute__((noinline)) static int validate(struct order *o)
{
	if (o->id % 97 == 0) {
		/* error path: the report is built, then the function returns without freeing it */
		char *err = malloc(256);
		snprintf(err, 256, "order %d rejected", o->id);
		sink = err;
		return -1;
	}
	return 0;
}

static void *worker(void *arg)
{
	int first = (int)(long)arg;
	char *notes = NULL;
	size_t len = 0;
	for (int i = first; i < ORDERS; i += WORKERS) {
		struct order *o = malloc(sizeof(*o));
		o->id = i;
		o->customer = customer_name(i);
		o->total = (i % 1000) * 1.25;
		if (validate(o) == 0) {
			char *line = format_line(o);
			sink = line;
			free(line);
			if (i % 50 == 0)
				notes = append_note(notes, &len, "checked;");
		}
		free(o);
	}
	free(notes);
	return NULL;
}

/* ---- the inventory service: one connection at a time, keep-alive, fixed answers ------ */

static int inv_fd = -1;

static void *inventory_service(void *arg)
{
	(void)arg;
	char req[2048], resp[256];
	for (;;) {
		int c = accept(inv_fd, NULL, NULL);
		if (c < 0)
			return NULL; /* the listening socket was shut down */
		size_t have = 0;
		ssize_t n;
		while ((n = read(c, req + have, sizeof(req) - 1 - have)) > 0) {
			have += (size_t)n;
			req[have] = '\0';
			char *end = strstr(req, "\r\n\r\n");
			if (!end)
				continue;
			int id = 0, status = 200;
			if (!strncmp(req, "GET /pricing", 12))
				/* a slow backend */
				nanosleep(&(struct timespec){0, 15000000}, NULL);
			else if (sscanf(req, "GET /inventory/%d", &id) == 1 && id % 13 == 0)
				status = 404;
			int len = snprintf(resp, sizeof(resp),
					   "HTTP/1.1 %d %s\r\nContent-Length: 11\r\n\r\n"
					   "{\"stock\":7}",
					   status, status == 200 ? "OK" : "Not Found");
			if (write(c, resp, (size_t)len) != len)
				break;
			have -= (size_t)(end + 4 - req);
			memmove(req, end + 4, have);
		}
		close(c);
	}
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

__attribute__((noinline)) static void check_inventory(CURL *h, const char *base, int order)
{
	char url[128];
	snprintf(url, sizeof(url), "%s/inventory/%d", base, order);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_perform(h);
}

__attribute__((noinline)) static void fetch_prices(CURL *h, const char *base)
{
	char url[128];
	snprintf(url, sizeof(url), "%s/pricing?currency=EUR", base);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_perform(h);
}

/* http_part() : 40 inventory checks and 5 price fetches, one after another. */
static void http_part(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	pthread_t t;
	inv_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (inv_fd < 0 || bind(inv_fd, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(inv_fd, 16) || getsockname(inv_fd, (struct sockaddr *)&a, &alen) ||
	    pthread_create(&t, NULL, inventory_service, NULL)) {
		printf("demo: no loopback socket, skipping the HTTP part\n");
		return;
	}
	char base[64];
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", ntohs(a.sin_port));
	curl_global_init(CURL_GLOBAL_DEFAULT);
	CURL *h = curl_easy_init();
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
	for (int i = 0; i < 40; i++)
		check_inventory(h, base, 1000 + i * 7);
	for (int i = 0; i < 5; i++)
		fetch_prices(h, base);
	curl_easy_cleanup(h);
	curl_global_cleanup();
	shutdown(inv_fd, SHUT_RDWR);
	pthread_join(t, NULL);
	close(inv_fd);
	printf("demo: made 45 requests to the inventory service at %s\n", base);
}

#define DB_ORDERS 2000
#define DB_CUSTOMERS 60

__attribute__((noinline)) static void save_orders(sqlite3 *db)
{
	sqlite3_stmt *s;
	sqlite3_exec(db, "DROP TABLE IF EXISTS orders; DROP TABLE IF EXISTS customers;"
			 "CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT);"
			 "CREATE TABLE orders(id INTEGER PRIMARY KEY, customer INTEGER, total REAL);"
			 "BEGIN",
		     NULL, NULL, NULL);
	sqlite3_prepare_v2(db, "INSERT INTO orders(customer, total) VALUES (?, ?)", -1, &s, NULL);
	for (int i = 0; i < DB_ORDERS; i++) {
		sqlite3_bind_int(s, 1, i % DB_CUSTOMERS);
		sqlite3_bind_double(s, 2, (i % 1000) * 1.25);
		sqlite3_step(s);
		sqlite3_reset(s);
	}
	sqlite3_finalize(s);
	sqlite3_prepare_v2(db, "INSERT INTO customers(id, name) VALUES (?, ?)", -1, &s, NULL);
	for (int i = 0; i < DB_CUSTOMERS; i++) {
		char name[32];
		snprintf(name, sizeof(name), "customer-%d", i);
		sqlite3_bind_int(s, 1, i);
		sqlite3_bind_text(s, 2, name, -1, SQLITE_TRANSIENT);
		sqlite3_step(s);
		sqlite3_reset(s);
	}
	sqlite3_finalize(s);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
}

/* One query per customer, each scanning all orders (orders.customer has no index). */
__attribute__((noinline)) static double customer_totals(sqlite3 *db)
{
	sqlite3_stmt *cust, *sum;
	double all = 0;
	sqlite3_prepare_v2(db, "SELECT id FROM customers ORDER BY id", -1, &cust, NULL);
	sqlite3_prepare_v2(db, "SELECT sum(total) FROM orders WHERE customer = ?", -1, &sum, NULL);
	while (sqlite3_step(cust) == SQLITE_ROW) {
		sqlite3_bind_int(sum, 1, sqlite3_column_int(cust, 0));
		if (sqlite3_step(sum) == SQLITE_ROW)
			all += sqlite3_column_double(sum, 0);
		sqlite3_reset(sum);
	}
	sqlite3_finalize(cust);
	sqlite3_finalize(sum);
	return all;
}

int main(int argc, char **argv)
{
	pthread_t t[WORKERS];
	for (long i = 0; i < WORKERS; i++)
		pthread_create(&t[i], NULL, worker, (void *)i);
	for (int i = 0; i < WORKERS; i++)
		pthread_join(t[i], NULL);
	printf("demo: processed %d orders with %d workers\n", ORDERS, WORKERS);
	http_part();

	sqlite3 *db;
	if (sqlite3_open(argc > 1 ? argv[1] : "demo.db", &db) != SQLITE_OK) {
		fprintf(stderr, "demo: %s\n", sqlite3_errmsg(db));
		return 1;
	}
	save_orders(db);
	printf("demo: saved %d orders; customer totals %.2f\n", DB_ORDERS, customer_totals(db));
	sqlite3_close(db);
	return 0;
}
