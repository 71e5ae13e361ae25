/* lock_early.c - locks taken before the profiler initialized: liblockearly.so's
 * constructor takes a mutex 6 times before any hook of ours ran; main then takes another 4
 * times. Prints the ground truth: {"sites": {}, "early_acquisitions": 6,
 * "total_acquisitions": 10}. */
#include <pthread.h>
#include <stdio.h>

int lockearly_count(void);

static pthread_mutex_t late_mutex = PTHREAD_MUTEX_INITIALIZER;

int main(void)
{
	for (int i = 0; i < 4; i++) {
		pthread_mutex_lock(&late_mutex);
		pthread_mutex_unlock(&late_mutex);
	}
	int early = lockearly_count();
	printf("{\"sites\": {}, \"early_acquisitions\": %d, \"total_acquisitions\": %d}\n", early,
	       early + 4);
	return 0;
}
