// SPDX-License-Identifier: GPL-2.0
/*
 * pthread-check: an ordinary glibc program that leans on what a kernel gives user space for
 * threads and time: thread creation and join, contended mutexes, condition variables with
 * timed waits, semaphores with timed waits, sleeps of every kind, clocks, and malloc from
 * many threads at once. Nothing in it knows about the kernel it runs on; built statically
 * for aarch64 and armhf (Debian's cross compilers), it shows that a 32-bit program runs on
 * the arm64 test kernel the way it does on a Raspberry Pi OS kernel, before any vchiq test
 * relies on it.
 *
 * Prints one "ok NAME" or "not ok NAME: reason" line per check and exits non-zero on any
 * failure. Usage: pthread-check [THREADS [ROUNDS]]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int failures;

static void check(int cond, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void check(int cond, const char *name, const char *fmt, ...)
{
	va_list ap;

	if (cond) {
		printf("ok %s\n", name);
		return;
	}
	failures++;
	printf("not ok %s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static int64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	if (clock_gettime(clk, &ts))
		return -1;
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static struct timespec deadline_in(clockid_t clk, int64_t ns)
{
	int64_t t = now_ns(clk) + ns;
	struct timespec ts = { .tv_sec = t / 1000000000, .tv_nsec = t % 1000000000 };

	return ts;
}

/* Contended mutex and condition variable: a bounded queue between producers and consumers. */
#define QUEUE_LEN 8
static struct {
	pthread_mutex_t lock;
	pthread_cond_t not_empty, not_full;
	unsigned int items[QUEUE_LEN];
	unsigned int head, count, producers_left;
	uint64_t consumed_sum, consumed;
	unsigned int timed_out_waits;
} q = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.not_empty = PTHREAD_COND_INITIALIZER,
	.not_full = PTHREAD_COND_INITIALIZER,
};

static unsigned int rounds = 2000;

static void *producer(void *arg)
{
	unsigned int base = (unsigned int)(uintptr_t)arg * 1000000, i;

	for (i = 0; i < rounds; i++) {
		pthread_mutex_lock(&q.lock);
		while (q.count == QUEUE_LEN)
			pthread_cond_wait(&q.not_full, &q.lock);
		q.items[(q.head + q.count) % QUEUE_LEN] = base + i;
		q.count++;
		pthread_cond_signal(&q.not_empty);
		pthread_mutex_unlock(&q.lock);
		/* Every so often give the consumers time to block in a timed wait. */
		if (i % 256 == 0)
			usleep(200);
	}
	pthread_mutex_lock(&q.lock);
	q.producers_left--;
	pthread_cond_broadcast(&q.not_empty);
	pthread_mutex_unlock(&q.lock);
	return NULL;
}

static void *consumer(void *arg)
{
	uint64_t sum = 0, n = 0;

	(void)arg;
	pthread_mutex_lock(&q.lock);
	for (;;) {
		while (q.count == 0 && q.producers_left) {
			struct timespec dl = deadline_in(CLOCK_REALTIME, 2000000);
			int rc = pthread_cond_timedwait(&q.not_empty, &q.lock, &dl);

			if (rc == ETIMEDOUT)
				q.timed_out_waits++;
			else if (rc)
				abort();
		}
		if (q.count == 0)
			break;
		sum += q.items[q.head];
		n++;
		q.head = (q.head + 1) % QUEUE_LEN;
		q.count--;
		pthread_cond_signal(&q.not_full);
	}
	q.consumed_sum += sum;
	q.consumed += n;
	pthread_mutex_unlock(&q.lock);
	return (void *)(uintptr_t)n;
}

static void check_queue(unsigned int threads)
{
	pthread_t p[64], c[64];
	uint64_t want_sum = 0, joined = 0;
	unsigned int t;
	int rc = 0;

	q.producers_left = threads;
	for (t = 0; t < threads; t++) {
		rc |= pthread_create(&p[t], NULL, producer, (void *)(uintptr_t)t);
		rc |= pthread_create(&c[t], NULL, consumer, NULL);
		want_sum += (uint64_t)t * 1000000 * rounds + (uint64_t)rounds * (rounds - 1) / 2;
	}
	check(rc == 0, "pthread_create", "error %d", rc);
	for (t = 0; t < threads; t++) {
		void *ret;

		rc |= pthread_join(p[t], NULL);
		rc |= pthread_join(c[t], &ret);
		joined += (uintptr_t)ret;
	}
	check(rc == 0, "pthread_join", "error %d", rc);
	check(q.consumed == (uint64_t)threads * rounds && joined == q.consumed &&
		      q.consumed_sum == want_sum,
	      "mutex + condvar queue: every item once", "%llu items (%llu joined), sum %llu, want %llu",
	      (unsigned long long)q.consumed, (unsigned long long)joined,
	      (unsigned long long)q.consumed_sum, (unsigned long long)want_sum);
	printf("# %u producer/consumer pairs, %u rounds, %u timed-out condvar waits\n", threads,
	       rounds, q.timed_out_waits);
}

/* A timed wait that nobody ends must time out, and not early. */
static void check_timed_waits(void)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cv;
	pthread_condattr_t ca;
	struct timespec dl;
	sem_t sem;
	int64_t t0, dt;
	int rc;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&cv, &ca);
	pthread_mutex_lock(&m);
	t0 = now_ns(CLOCK_MONOTONIC);
	dl = deadline_in(CLOCK_MONOTONIC, 50000000);
	rc = pthread_cond_timedwait(&cv, &m, &dl);
	dt = now_ns(CLOCK_MONOTONIC) - t0;
	pthread_mutex_unlock(&m);
	check(rc == ETIMEDOUT && dt >= 50000000, "pthread_cond_timedwait (CLOCK_MONOTONIC) times out",
	      "rc %d after %lld ns", rc, (long long)dt);

	sem_init(&sem, 0, 0);
	t0 = now_ns(CLOCK_MONOTONIC);
	dl = deadline_in(CLOCK_REALTIME, 30000000);
	rc = sem_timedwait(&sem, &dl) ? errno : 0;
	dt = now_ns(CLOCK_MONOTONIC) - t0;
	check(rc == ETIMEDOUT && dt >= 29000000, "sem_timedwait times out", "rc %d after %lld ns",
	      rc, (long long)dt);
	sem_post(&sem);
	check(sem_trywait(&sem) == 0, "sem_post then sem_trywait", "errno %d", errno);

	pthread_mutex_lock(&m);
	dl = deadline_in(CLOCK_REALTIME, 20000000);
	rc = pthread_mutex_timedlock(&m, &dl);
	check(rc == ETIMEDOUT, "pthread_mutex_timedlock on a held mutex times out", "rc %d", rc);
	pthread_mutex_unlock(&m);
}

/* Sleeps: each one at least as long as asked, the clocks agree. */
static void check_sleeps(void)
{
	struct timespec req = { .tv_sec = 0, .tv_nsec = 20000000 }, res;
	struct timeval tv;
	int64_t t0, dt;
	int rc;

	t0 = now_ns(CLOCK_MONOTONIC);
	rc = nanosleep(&req, NULL);
	dt = now_ns(CLOCK_MONOTONIC) - t0;
	check(rc == 0 && dt >= 20000000, "nanosleep 20 ms", "rc %d errno %d after %lld ns", rc, errno,
	      (long long)dt);

	t0 = now_ns(CLOCK_MONOTONIC);
	rc = usleep(10000);
	dt = now_ns(CLOCK_MONOTONIC) - t0;
	check(rc == 0 && dt >= 10000000, "usleep 10 ms", "rc %d after %lld ns", rc, (long long)dt);

	struct timespec abs = deadline_in(CLOCK_MONOTONIC, 15000000);

	t0 = now_ns(CLOCK_MONOTONIC);
	rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, NULL);
	dt = now_ns(CLOCK_MONOTONIC) - t0;
	check(rc == 0 && dt >= 14000000, "clock_nanosleep TIMER_ABSTIME", "rc %d after %lld ns", rc,
	      (long long)dt);

	rc = clock_getres(CLOCK_MONOTONIC, &res);
	check(rc == 0 && res.tv_sec == 0 && res.tv_nsec <= 1000,
	      "clock_getres(CLOCK_MONOTONIC): high-resolution timers", "rc %d res %ld ns", rc,
	      (long)res.tv_nsec);

	rc = gettimeofday(&tv, NULL);
	check(rc == 0 && llabs((int64_t)tv.tv_sec - now_ns(CLOCK_REALTIME) / 1000000000) <= 1,
	      "gettimeofday agrees with CLOCK_REALTIME", "rc %d", rc);
	check(time(NULL) > 0, "time()", "returned %lld", (long long)time(NULL));
}

/* malloc and free from many threads at once (glibc's arena locks are contended futexes). */
static void *churn(void *arg)
{
	unsigned int seed = (unsigned int)(uintptr_t)arg, i, bad = 0;
	void *keep[64] = { 0 };

	for (i = 0; i < rounds * 4; i++) {
		unsigned int k = rand_r(&seed) % 64;
		size_t sz = 1 + rand_r(&seed) % 8192;

		free(keep[k]);
		keep[k] = malloc(sz);
		if (!keep[k]) {
			bad++;
			continue;
		}
		memset(keep[k], (int)k, sz < 64 ? sz : 64);
		if (((unsigned char *)keep[k])[0] != (unsigned char)k)
			bad++;
	}
	for (i = 0; i < 64; i++)
		free(keep[i]);
	return (void *)(uintptr_t)bad;
}

static void check_malloc(unsigned int threads)
{
	pthread_t t[64];
	unsigned int i, bad = 0;
	int rc = 0;

	for (i = 0; i < threads; i++)
		rc |= pthread_create(&t[i], NULL, churn, (void *)(uintptr_t)(i + 1));
	for (i = 0; i < threads; i++) {
		void *ret;

		rc |= pthread_join(t[i], &ret);
		bad += (unsigned int)(uintptr_t)ret;
	}
	check(rc == 0 && bad == 0, "malloc/free from every thread at once", "rc %d, %u bad blocks",
	      rc, bad);
}

/* Detached threads and a barrier. */
static pthread_barrier_t barrier;

static void *at_barrier(void *arg)
{
	(void)arg;
	pthread_barrier_wait(&barrier);
	return NULL;
}

static void check_barrier(unsigned int threads)
{
	pthread_t t[64];
	unsigned int i;
	int rc = 0, serial = 0;

	pthread_barrier_init(&barrier, NULL, threads + 1);
	for (i = 0; i < threads; i++)
		rc |= pthread_create(&t[i], NULL, at_barrier, NULL);
	serial = pthread_barrier_wait(&barrier);
	for (i = 0; i < threads; i++)
		rc |= pthread_join(t[i], NULL);
	check(rc == 0 && (serial == 0 || serial == PTHREAD_BARRIER_SERIAL_THREAD),
	      "pthread_barrier_wait", "rc %d serial %d", rc, serial);
	pthread_barrier_destroy(&barrier);
}

int main(int argc, char **argv)
{
	unsigned int threads = argc > 1 ? (unsigned int)atoi(argv[1]) : 4;

	if (argc > 2)
		rounds = (unsigned int)atoi(argv[2]);
	if (threads < 1 || threads > 64 || rounds < 1) {
		fprintf(stderr, "usage: pthread-check [THREADS (1-64) [ROUNDS]]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("# pthread-check: %zu-bit, %u threads, %u rounds\n", sizeof(void *) * 8, threads,
	       rounds);
	check_sleeps();
	check_timed_waits();
	check_queue(threads);
	check_malloc(threads);
	check_barrier(threads);
	printf("# %d failed\n", failures);
	return failures ? 1 : 0;
}
