/* lockers.c - lock contention with exact ground truth, deterministic on any number of cores.
 *
 * lockers contend [ROUNDS [WAITERS]]
 *   Each round the main thread takes hot_mutex (in hold_hot), lets WAITERS threads loose on
 *   it (each calls wait_hot_mutex) and releases it only once every waiter is asleep in the
 *   kernel (/proc/self/task/TID: state S, in futex): so every waiter found the lock busy and
 *   waited, exactly once per round. The same then for table_lock, a rwlock the main thread
 *   holds for writing (in hold_table) while even waiters call read_table and odd ones
 *   write_table. In round 0 waiter 0 also gives up on hot_mutex after a 2 ms timedlock
 *   (try_hot_briefly: one ETIMEDOUT). cold_mutex is taken only by the main thread
 *   (touch_cold), never while anyone else could want it: never contended.
 * lockers quiet [ROUNDS [WAITERS]]
 *   The same threads take shared and private mutexes and a rwlock strictly in turn (a
 *   barrier between turns), with lock, timedlock, trylock, rdlock, timedrdlock, wrlock:
 *   nothing is ever contended.
 * lockers fork
 *   Takes shared_mutex 10 times, forks a child that takes it 7 times, then 3 more times.
 *   Prints the truth of both processes (the child's line has "child": true).
 *
 * Prints one JSON line of ground truth: every lock's address, kind, acquisitions (lock calls
 * that acquired it), contended acquisitions and timeouts, and the functions that waited. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_WAITERS 16
#define COLD_PER_ROUND 5

static pthread_mutex_t hot_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t cold_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_rwlock_t table_lock = PTHREAD_RWLOCK_INITIALIZER;
static pthread_mutex_t shared_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t private_mutex[MAX_WAITERS + 1];

static int rounds = 50, waiters = 3;
static pthread_barrier_t go, done;
static _Atomic int announced[MAX_WAITERS]; /* the phase a waiter is about to block in */
static _Atomic int timed_out;		    /* try_hot_briefly got ETIMEDOUT */
static pid_t waiter_tid[MAX_WAITERS];
static volatile uint64_t work;

/* ---- the functions the report must name ------------------------------------------------ */

__attribute__((noinline)) static void hold_hot(void)
{
	pthread_mutex_lock(&hot_mutex);
	work++;
}

__attribute__((noinline)) static void wait_hot_mutex(void)
{
	pthread_mutex_lock(&hot_mutex);
	work += 2;
	pthread_mutex_unlock(&hot_mutex);
}

__attribute__((noinline)) static int try_hot_briefly(void)
{
	struct timespec at;
	clock_gettime(CLOCK_REALTIME, &at);
	at.tv_nsec += 2000000;
	if (at.tv_nsec >= 1000000000) {
		at.tv_sec++;
		at.tv_nsec -= 1000000000;
	}
	int rc = pthread_mutex_timedlock(&hot_mutex, &at);
	if (rc == 0)
		pthread_mutex_unlock(&hot_mutex);
	work += 3;
	return rc;
}

__attribute__((noinline)) static void hold_table(void)
{
	pthread_rwlock_wrlock(&table_lock);
	work += 4;
}

__attribute__((noinline)) static void read_table(void)
{
	pthread_rwlock_rdlock(&table_lock);
	work += 5;
	pthread_rwlock_unlock(&table_lock);
}

__attribute__((noinline)) static void write_table(void)
{
	pthread_rwlock_wrlock(&table_lock);
	work += 6;
	pthread_rwlock_unlock(&table_lock);
}

__attribute__((noinline)) static void touch_cold(void)
{
	for (int i = 0; i < COLD_PER_ROUND; i++) {
		pthread_mutex_lock(&cold_mutex);
		work += 7;
		pthread_mutex_unlock(&cold_mutex);
	}
}

/* ---- making contention certain ---------------------------------------------------------- */

/* blocked_in_futex() : is thread tid asleep in a futex wait? (state S; and, where the
 * kernel shows it, system call 202 = futex on x86-64) */
static int blocked_in_futex(pid_t tid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	const char *rp = strrchr(buf, ')'); /* the command name may contain anything */
	if (!rp || rp[1] != ' ' || rp[2] != 'S')
		return 0;
	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 1; /* not shown here: state S after announcing is enough */
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 1;
	buf[n] = '\0';
	return atoi(buf) == SYS_futex;
}

/* wait_all_blocked() : every waiter has announced `phase` and sleeps in the kernel. */
static void wait_all_blocked(int phase, int first, int step)
{
	struct timespec pause = {0, 200000};
	for (long spins = 0;; spins++) {
		int all = 1;
		for (int i = first; i < waiters && all; i += step)
			all = atomic_load(&announced[i]) == phase && blocked_in_futex(waiter_tid[i]);
		if (all)
			return;
		if (spins > 50000) { /* 10 s: something is badly wrong; fail, never hang */
			fprintf(stderr, "lockers: waiters never blocked in phase %d\n", phase);
			exit(1);
		}
		nanosleep(&pause, NULL);
	}
}

static void *waiter(void *arg)
{
	int me = (int)(intptr_t)arg;
	waiter_tid[me] = (pid_t)syscall(SYS_gettid);
	pthread_barrier_wait(&done); /* tid published */
	for (int r = 0; r < rounds; r++) {
		pthread_barrier_wait(&go);
		atomic_store(&announced[me], 4 * r + 1);
		wait_hot_mutex();
		pthread_barrier_wait(&done);

		if (r == 0) { /* waiter 0 gives up on the held mutex; the others just pass */
			pthread_barrier_wait(&go);
			if (me == 0) {
				if (try_hot_briefly() == ETIMEDOUT)
					atomic_store(&timed_out, 1);
				atomic_store(&announced[me], 2);
			}
			pthread_barrier_wait(&done);
		}

		pthread_barrier_wait(&go);
		atomic_store(&announced[me], 4 * r + 3);
		if (me % 2 == 0)
			read_table();
		else
			write_table();
		pthread_barrier_wait(&done);
	}
	return NULL;
}

static void contend(void)
{
	pthread_t th[MAX_WAITERS];
	pthread_barrier_init(&go, NULL, (unsigned)waiters + 1);
	pthread_barrier_init(&done, NULL, (unsigned)waiters + 1);
	for (int i = 0; i < waiters; i++)
		pthread_create(&th[i], NULL, waiter, (void *)(intptr_t)i);
	pthread_barrier_wait(&done);
	for (int r = 0; r < rounds; r++) {
		hold_hot();
		pthread_barrier_wait(&go);
		wait_all_blocked(4 * r + 1, 0, 1);
		pthread_mutex_unlock(&hot_mutex);
		pthread_barrier_wait(&done);

		if (r == 0) { /* waiter 0 times out on the held mutex */
			hold_hot();
			pthread_barrier_wait(&go);
			while (atomic_load(&announced[0]) != 2) {
				struct timespec pause = {0, 200000};
				nanosleep(&pause, NULL);
			}
			pthread_mutex_unlock(&hot_mutex);
			pthread_barrier_wait(&done);
		}

		touch_cold();

		hold_table();
		pthread_barrier_wait(&go);
		wait_all_blocked(4 * r + 3, 0, 1);
		pthread_rwlock_unlock(&table_lock);
		pthread_barrier_wait(&done);
	}
	for (int i = 0; i < waiters; i++)
		pthread_join(th[i], NULL);

	unsigned long long R = (unsigned long long)rounds, W = (unsigned long long)waiters;
	unsigned long long readers = (W + 1) / 2, writers = W / 2;
	printf("{\"sites\": {}, \"mode\": \"contend\", \"rounds\": %llu, \"waiters\": %llu, "
	       "\"timeout_seen\": %d, \"locks\": {"
	       "\"hot_mutex\": {\"addr\": \"%p\", \"kind\": \"mutex\", \"acquisitions\": %llu, "
	       "\"contended\": %llu, \"timeouts\": 1, \"first_acquired_in\": \"hold_hot\", "
	       "\"wait_functions\": {\"wait_hot_mutex\": %llu, \"try_hot_briefly\": 1}}, "
	       "\"table_lock\": {\"addr\": \"%p\", \"kind\": \"rwlock\", \"acquisitions\": %llu, "
	       "\"read_acquisitions\": %llu, \"write_acquisitions\": %llu, \"contended\": %llu, "
	       "\"read_contended\": %llu, \"write_contended\": %llu, \"timeouts\": 0, "
	       "\"first_acquired_in\": \"hold_table\", "
	       "\"wait_functions\": {\"read_table\": %llu, \"write_table\": %llu}}, "
	       "\"cold_mutex\": {\"addr\": \"%p\", \"kind\": \"mutex\", \"acquisitions\": %llu, "
	       "\"contended\": 0, \"timeouts\": 0, \"first_acquired_in\": \"touch_cold\", "
	       "\"wait_functions\": {}}}}\n",
	       R, W, atomic_load(&timed_out), (void *)&hot_mutex, R * (W + 1) + 1, R * W + 1,
	       R * W, (void *)&table_lock, R * (W + 1), R * readers, R * (writers + 1), R * W,
	       R * readers, R * writers, R * readers, R * writers, (void *)&cold_mutex,
	       R * COLD_PER_ROUND);
}

/* ---- quiet: the same locks, strictly in turn ---------------------------------------------- */

static void far_future(struct timespec *at)
{
	clock_gettime(CLOCK_REALTIME, at);
	at->tv_sec += 3600;
}

__attribute__((noinline)) static void take_turn(int me)
{
	struct timespec at;
	far_future(&at);
	pthread_mutex_lock(&shared_mutex);
	pthread_mutex_unlock(&shared_mutex);
	if (pthread_mutex_timedlock(&shared_mutex, &at) == 0)
		pthread_mutex_unlock(&shared_mutex);
	if (pthread_mutex_trylock(&shared_mutex) == 0)
		pthread_mutex_unlock(&shared_mutex);
	pthread_rwlock_rdlock(&table_lock);
	pthread_rwlock_unlock(&table_lock);
	if (pthread_rwlock_timedrdlock(&table_lock, &at) == 0)
		pthread_rwlock_unlock(&table_lock);
	pthread_rwlock_wrlock(&table_lock);
	pthread_rwlock_unlock(&table_lock);
	pthread_mutex_lock(&private_mutex[me]);
	pthread_mutex_unlock(&private_mutex[me]);
}

static void *quiet_thread(void *arg)
{
	int me = (int)(intptr_t)arg;
	for (int r = 0; r < rounds; r++)
		for (int turn = 0; turn <= waiters; turn++) {
			if (turn == me)
				take_turn(me);
			pthread_barrier_wait(&go);
		}
	return NULL;
}

static void quiet(void)
{
	pthread_t th[MAX_WAITERS];
	pthread_barrier_init(&go, NULL, (unsigned)waiters + 1);
	for (int i = 0; i <= waiters; i++)
		pthread_mutex_init(&private_mutex[i], NULL);
	for (int i = 1; i <= waiters; i++)
		pthread_create(&th[i], NULL, quiet_thread, (void *)(intptr_t)i);
	quiet_thread((void *)0);
	for (int i = 1; i <= waiters; i++)
		pthread_join(th[i], NULL);
	unsigned long long R = (unsigned long long)rounds, T = (unsigned long long)waiters + 1;
	printf("{\"sites\": {}, \"mode\": \"quiet\", \"rounds\": %llu, \"threads\": %llu, "
	       "\"locks\": {\"shared_mutex\": {\"addr\": \"%p\", \"kind\": \"mutex\", "
	       "\"acquisitions\": %llu, \"contended\": 0}, "
	       "\"table_lock\": {\"addr\": \"%p\", \"kind\": \"rwlock\", \"acquisitions\": %llu, "
	       "\"read_acquisitions\": %llu, \"write_acquisitions\": %llu, \"contended\": 0}, "
	       "\"private_mutex_0\": {\"addr\": \"%p\", \"kind\": \"mutex\", "
	       "\"acquisitions\": %llu, \"contended\": 0}}, \"total_acquisitions\": %llu}\n",
	       R, T, (void *)&shared_mutex, 3 * R * T, (void *)&table_lock, 3 * R * T, 2 * R * T,
	       R * T, (void *)&private_mutex[0], R, 7 * R * T);
}

/* ---- fork: counts start from zero in the child ---------------------------------------------- */

__attribute__((noinline)) static void take_shared(int n)
{
	for (int i = 0; i < n; i++) {
		pthread_mutex_lock(&shared_mutex);
		work++;
		pthread_mutex_unlock(&shared_mutex);
	}
}

static int forked(void)
{
	take_shared(10);
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		take_shared(7);
		printf("{\"sites\": {}, \"child\": true, \"pid\": %d, \"locks\": {\"shared_mutex\": "
		       "{\"addr\": \"%p\", \"acquisitions\": 7}}, \"total_acquisitions\": 7}\n",
		       (int)getpid(), (void *)&shared_mutex);
		exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	take_shared(3);
	printf("{\"sites\": {}, \"child\": false, \"pid\": %d, \"locks\": {\"shared_mutex\": "
	       "{\"addr\": \"%p\", \"acquisitions\": 13}}, \"total_acquisitions\": 13}\n",
	       (int)getpid(), (void *)&shared_mutex);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "contend";
	if (argc > 2)
		rounds = atoi(argv[2]);
	if (argc > 3)
		waiters = atoi(argv[3]);
	if (rounds < 1 || waiters < 1 || waiters > MAX_WAITERS) {
		fprintf(stderr, "usage: lockers contend|quiet|fork [ROUNDS [WAITERS 1..%d]]\n",
			MAX_WAITERS);
		return 2;
	}
	if (!strcmp(mode, "contend"))
		contend();
	else if (!strcmp(mode, "quiet"))
		quiet();
	else if (!strcmp(mode, "fork"))
		return forked();
	else
		return 2;
	return 0;
}
