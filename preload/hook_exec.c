/* hook_exec.c - interposes the exec family (execve, execv, execvp, execvpe, execl, execle,
 * execlp, fexecve, execveat) so that the trace is flushed, with an EXEC record, before the
 * image is replaced: an exec runs no destructor, and without this the last flush interval
 * of events would be lost. The new image is traced by its own copy of the preload
 * (LD_PRELOAD is left alone, unlike heaptrack) and keeps the old trace (writer.c,
 * move_predecessor). glibc's execl* and posix_spawn call execve internally, not through
 * the PLT, hence the variadic ones here. Runs on the application thread calling exec.
 * Never: malloc (argument vectors are built on the stack), changing what exec does. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <unistd.h>

#include "hook.h"
#include "writer.h"

static int (*real_execve)(const char *, char *const[], char *const[]);
static int (*real_execvpe)(const char *, char *const[], char *const[]);
static int (*real_fexecve)(int, char *const[], char *const[]);
static int (*real_execveat)(int, const char *, char *const[], char *const[], int);

extern char **environ;

/* before_exec() : flush, unless tracing is off or we are inside one of our own calls.
 * Looks the real function up by name (exec is rare; no need for resolve.c's table). */
static void *before_exec(const char *path, const char *sym, void *cached)
{
	if (!cached)
		cached = dlsym(RTLD_NEXT, sym);
	if (atomic_load_explicit(&ic_state, memory_order_acquire) == IC_READY && !ic_tls.in_hook) {
		int e = errno;
		ic_tls.in_hook = 2;
		wr_before_exec(path);
		ic_tls.in_hook = 0;
		errno = e;
	}
	return cached;
}

#define CALL_OR_ENOSYS(fn, ...) ((fn) ? (fn)(__VA_ARGS__) : (errno = ENOSYS, -1))

IC_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	real_execve = before_exec(path, "execve", (void *)real_execve);
	return CALL_OR_ENOSYS(real_execve, path, argv, envp);
}

IC_EXPORT int execv(const char *path, char *const argv[])
{
	real_execve = before_exec(path, "execve", (void *)real_execve);
	return CALL_OR_ENOSYS(real_execve, path, argv, environ);
}

IC_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	real_execvpe = before_exec(file, "execvpe", (void *)real_execvpe);
	return CALL_OR_ENOSYS(real_execvpe, file, argv, envp);
}

IC_EXPORT int execvp(const char *file, char *const argv[])
{
	real_execvpe = before_exec(file, "execvpe", (void *)real_execvpe);
	return CALL_OR_ENOSYS(real_execvpe, file, argv, environ);
}

IC_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	real_fexecve = before_exec("(fexecve)", "fexecve", (void *)real_fexecve);
	return CALL_OR_ENOSYS(real_fexecve, fd, argv, envp);
}

IC_EXPORT int execveat(int dirfd, const char *path, char *const argv[], char *const envp[],
		       int flags)
{
	real_execveat = before_exec(path, "execveat", (void *)real_execveat);
	return CALL_OR_ENOSYS(real_execveat, dirfd, path, argv, envp, flags);
}

/* The variadic forms: count the arguments, build the vector on the stack (as glibc does),
 * and go through the vector forms above. */
#define VARARGS_TO_ARGV(first, ap, argv, extra)                                                    \
	size_t n_ = 1;                                                                             \
	va_start(ap, first);                                                                       \
	while (va_arg(ap, const char *))                                                           \
		n_++;                                                                              \
	va_end(ap);                                                                                \
	if (n_ > 1u << 20) {                                                                       \
		errno = E2BIG;                                                                     \
		return -1;                                                                         \
	}                                                                                          \
	char *argv[n_ + 1];                                                                        \
	argv[0] = (char *)(first);                                                                 \
	va_start(ap, first);                                                                       \
	for (size_t i_ = 1; i_ <= n_; i_++)                                                        \
		argv[i_] = va_arg(ap, char *);                                                     \
	extra;                                                                                     \
	va_end(ap)

IC_EXPORT int execl(const char *path, const char *arg, ...)
{
	va_list ap;
	VARARGS_TO_ARGV(arg, ap, argv, (void)0);
	return execv(path, argv);
}

IC_EXPORT int execlp(const char *file, const char *arg, ...)
{
	va_list ap;
	VARARGS_TO_ARGV(arg, ap, argv, (void)0);
	return execvp(file, argv);
}

IC_EXPORT int execle(const char *path, const char *arg, ...)
{
	va_list ap;
	char **envp;
	VARARGS_TO_ARGV(arg, ap, argv, envp = va_arg(ap, char **));
	return execve(path, argv, envp);
}
