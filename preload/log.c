/* log.c - the preload's only output to the user: "intercept: ..." lines on stderr, written
 * with write(2), and a tiny printf-like formatter for them and for file names. Called from
 * any thread, including hooks and signal handlers. Never: stdio, malloc, locks. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "config.h"
#include "ic.h"

static size_t put_str(char *buf, size_t pos, size_t cap, const char *s)
{
	if (!s)
		s = "(null)";
	while (*s && pos + 1 < cap)
		buf[pos++] = *s++;
	return pos;
}

static size_t put_num(char *buf, size_t pos, size_t cap, unsigned long long v, unsigned base,
		      bool neg)
{
	char tmp[24];
	int n = 0;
	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v && n < (int)sizeof(tmp));
	if (neg && pos + 1 < cap)
		buf[pos++] = '-';
	while (n > 0 && pos + 1 < cap)
		buf[pos++] = tmp[--n];
	return pos;
}

static size_t vfmt(char *buf, size_t cap, const char *fmt, va_list ap)
{
	size_t pos = 0;
	if (cap == 0)
		return 0;
	for (const char *f = fmt; *f && pos + 1 < cap; f++) {
		if (*f != '%') {
			buf[pos++] = *f;
			continue;
		}
		f++;
		int longs = 0;
		while (*f == 'l') {
			longs++;
			f++;
		}
		switch (*f) {
		case 's':
			pos = put_str(buf, pos, cap, va_arg(ap, const char *));
			break;
		case 'd': {
			long long v;
			if (longs >= 2)
				v = va_arg(ap, long long);
			else if (longs == 1)
				v = va_arg(ap, long);
			else
				v = va_arg(ap, int);
			pos = put_num(buf, pos, cap, v < 0 ? -(unsigned long long)v : (unsigned long long)v,
				      10, v < 0);
			break;
		}
		case 'u':
		case 'x': {
			unsigned long long v;
			if (longs >= 2)
				v = va_arg(ap, unsigned long long);
			else if (longs == 1)
				v = va_arg(ap, unsigned long);
			else
				v = va_arg(ap, unsigned);
			pos = put_num(buf, pos, cap, v, *f == 'x' ? 16 : 10, false);
			break;
		}
		case '%':
			buf[pos++] = '%';
			break;
		case '\0':
			f--;
			break;
		default:
			buf[pos++] = '?';
			break;
		}
	}
	buf[pos] = '\0';
	return pos;
}

size_t ic_fmt(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t n = vfmt(buf, cap, fmt, ap);
	va_end(ap);
	return n;
}

void ic_log(const char *fmt, ...)
{
	if (opt_quiet)
		return;
	int saved = errno;
	char line[512] = "intercept: ";
	size_t pos = sizeof("intercept: ") - 1;
	va_list ap;
	va_start(ap, fmt);
	pos += vfmt(line + pos, sizeof(line) - pos - 1, fmt, ap);
	va_end(ap);
	line[pos++] = '\n';
	for (size_t off = 0; off < pos;) {
		ssize_t w = write(STDERR_FILENO, line + off, pos - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	errno = saved;
}

uint32_t ic_gettid(void)
{
	return (uint32_t)syscall(SYS_gettid);
}
