// SPDX-License-Identifier: GPL-2.0
/*
 * pcm-check: drives a playback PCM through the raw ALSA ioctls, for what aplay does not
 * check (plan audio):
 *
 *   pcm-check limits DEV                       the hardware's ranges, as the driver refines them
 *   pcm-check play DEV BITS CHANNELS RATE FRAMES   plays FRAMES of a ramp; after every write the
 *                                              delay (written - played) is within [0, buffer],
 *                                              and after the drain every frame was played;
 *                                              [PERIODS PERIOD_US] shape the buffer
 *   pcm-check stall DEV                        with a VideoCore that reports nothing: no progress
 *                                              in 0.5 s, and DROP and close return within 5 s (no reply wait)
 *   pcm-check position DEV BITS CHANNELS RATE SECONDS AUDS   plays SECONDS of silence and,
 *                                              after every write and a random pause, compares
 *                                              ALSA's position (written - delay) with the bytes
 *                                              the simulated VideoCore reported played (the
 *                                              newest connection's completed= in the debugfs
 *                                              file AUDS); prints the error (make bench)
 *   pcm-check torn DEV WAV [start]             a write the VideoCore cannot take, then the
 *                                              stream prepared again plays WAV (S16 stereo
 *                                              48 kHz): see torn()
 *   pcm-check wavplay DEV WAV                  plays WAV as aplay does, but drains without ALSA's
 *                                              drain timeout: see wavplay()
 *   pcm-check wrap DEV HOLD ROUNDS             a whole buffer played between two reads of the
 *                                              position, ROUNDS times: see wrap()
 *   pcm-check wav FILE BITS CHANNELS RATE FRAMES SEED   writes a WAV of pseudo-random samples
 *   pcm-check same WAV CAPTURE                 the capture is the WAV's data followed by at most
 *                                              one period of silence (aplay pads its last period)
 *
 * DEV is a /dev/snd/pcmCxDyp node. Exit 0 on success, 1 on a failed check, 2 on misuse.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <sound/asound.h>

/* The header `wav` writes (RIFF, fmt and data chunk headers): the samples follow it. */
#define WAV_HEADER 44

static int fail(const char *what)
{
	fprintf(stderr, "pcm-check: %s: %s\n", what, strerror(errno));
	return 1;
}

static struct snd_mask *mask(struct snd_pcm_hw_params *p, int param)
{
	return &p->masks[param - SNDRV_PCM_HW_PARAM_FIRST_MASK];
}

static struct snd_interval *interval(struct snd_pcm_hw_params *p, int param)
{
	return &p->intervals[param - SNDRV_PCM_HW_PARAM_FIRST_INTERVAL];
}

/* Everything allowed, as snd_pcm_hw_params_any() starts. */
static void any(struct snd_pcm_hw_params *p)
{
	int i;

	memset(p, 0, sizeof(*p));
	for (i = SNDRV_PCM_HW_PARAM_FIRST_MASK; i <= SNDRV_PCM_HW_PARAM_LAST_MASK; i++)
		memset(mask(p, i), 0xff, sizeof(struct snd_mask));
	for (i = SNDRV_PCM_HW_PARAM_FIRST_INTERVAL; i <= SNDRV_PCM_HW_PARAM_LAST_INTERVAL; i++) {
		interval(p, i)->min = 0;
		interval(p, i)->max = UINT_MAX;
	}
	p->rmask = ~0U;
	p->info = ~0U;
}

static void set_mask(struct snd_pcm_hw_params *p, int param, unsigned int bit)
{
	struct snd_mask *m = mask(p, param);

	memset(m, 0, sizeof(*m));
	m->bits[bit / 32] = 1U << (bit % 32);
}

static void set_int(struct snd_pcm_hw_params *p, int param, unsigned int v)
{
	interval(p, param)->min = v;
	interval(p, param)->max = v;
	interval(p, param)->integer = 1;
}

static int limits(int fd)
{
	struct snd_pcm_hw_params p;
	struct snd_interval *i;

	any(&p);
	if (ioctl(fd, SNDRV_PCM_IOCTL_HW_REFINE, &p) < 0)
		return fail("HW_REFINE");
	printf("formats %#x\n", mask(&p, SNDRV_PCM_HW_PARAM_FORMAT)->bits[0]);
	i = interval(&p, SNDRV_PCM_HW_PARAM_CHANNELS);
	printf("channels %u-%u\n", i->min, i->max);
	i = interval(&p, SNDRV_PCM_HW_PARAM_RATE);
	printf("rate %u-%u\n", i->min, i->max);
	i = interval(&p, SNDRV_PCM_HW_PARAM_BUFFER_BYTES);
	printf("buffer_bytes %u-%u\n", i->min, i->max);
	i = interval(&p, SNDRV_PCM_HW_PARAM_PERIOD_TIME);
	printf("period_time %u-%u\n", i->min, i->max);
	i = interval(&p, SNDRV_PCM_HW_PARAM_PERIODS);
	printf("periods %u-%u\n", i->min, i->max);
	/* A period of 1000 bytes is not a multiple of 16: refused. */
	any(&p);
	set_int(&p, SNDRV_PCM_HW_PARAM_PERIOD_BYTES, 1000);
	printf("period_bytes 1000 %s\n",
	       ioctl(fd, SNDRV_PCM_IOCTL_HW_REFINE, &p) < 0 ? "refused" : "accepted");
	any(&p);
	set_int(&p, SNDRV_PCM_HW_PARAM_PERIOD_BYTES, 1024);
	printf("period_bytes 1024 %s\n",
	       ioctl(fd, SNDRV_PCM_IOCTL_HW_REFINE, &p) < 0 ? "refused" : "accepted");
	return 0;
}

/* play's optional PERIODS and PERIOD_US: the buffer's shape, when not 0. */
static unsigned int want_periods, want_period_us;
/* Ranges instead of exact values (0: none): the kernel picks the shortest period in them. */
static unsigned int want_period_us_min, want_buffer_bytes_max;

/* Configures interleaved BITS/CHANNELS/RATE; returns the buffer size in frames or 0. */
static unsigned int setup(int fd, int bits, int ch, int rate)
{
	struct snd_pcm_hw_params p;

	any(&p);
	set_mask(&p, SNDRV_PCM_HW_PARAM_ACCESS, SNDRV_PCM_ACCESS_RW_INTERLEAVED);
	set_mask(&p, SNDRV_PCM_HW_PARAM_FORMAT,
		 bits == 8 ? SNDRV_PCM_FORMAT_U8 : SNDRV_PCM_FORMAT_S16_LE);
	set_mask(&p, SNDRV_PCM_HW_PARAM_SUBFORMAT, SNDRV_PCM_SUBFORMAT_STD);
	set_int(&p, SNDRV_PCM_HW_PARAM_CHANNELS, ch);
	set_int(&p, SNDRV_PCM_HW_PARAM_RATE, rate);
	if (want_periods)
		set_int(&p, SNDRV_PCM_HW_PARAM_PERIODS, want_periods);
	if (want_period_us)
		set_int(&p, SNDRV_PCM_HW_PARAM_PERIOD_TIME, want_period_us);
	if (want_period_us_min)
		interval(&p, SNDRV_PCM_HW_PARAM_PERIOD_TIME)->min = want_period_us_min;
	if (want_buffer_bytes_max)
		interval(&p, SNDRV_PCM_HW_PARAM_BUFFER_BYTES)->max = want_buffer_bytes_max;
	if (ioctl(fd, SNDRV_PCM_IOCTL_HW_PARAMS, &p) < 0) {
		fail("HW_PARAMS");
		return 0;
	}
	if (ioctl(fd, SNDRV_PCM_IOCTL_PREPARE) < 0) {
		fail("PREPARE");
		return 0;
	}
	return interval(&p, SNDRV_PCM_HW_PARAM_BUFFER_SIZE)->min;
}

static int delay_ok(int fd, unsigned int buffer)
{
	snd_pcm_sframes_t d;

	if (ioctl(fd, SNDRV_PCM_IOCTL_DELAY, &d) < 0)
		return errno == EPIPE ? -1 : 0;
	if (d < 0 || d > (snd_pcm_sframes_t)buffer) {
		fprintf(stderr, "pcm-check: delay %ld outside [0, %u]\n", (long)d, buffer);
		return 0;
	}
	return 1;
}

static int play(int fd, int bits, int ch, int rate, long frames)
{
	unsigned int buffer = setup(fd, bits, ch, rate);
	int fb = ch * bits / 8, r;
	long done = 0, chunk;
	unsigned char *buf;
	struct snd_xferi x;

	if (!buffer)
		return 1;
	chunk = buffer / 4 ? buffer / 4 : 1;
	buf = malloc(chunk * fb);
	if (!buf)
		return fail("malloc");
	while (done < frames) {
		long n = frames - done < chunk ? frames - done : chunk, k;

		for (k = 0; k < n * fb; k++)
			buf[k] = (unsigned char)(done * fb + k);
		x.buf = buf;
		x.frames = n;
		x.result = 0;
		if (ioctl(fd, SNDRV_PCM_IOCTL_WRITEI_FRAMES, &x) < 0) {
			free(buf);
			return fail("WRITEI_FRAMES");
		}
		done += x.result;
		r = delay_ok(fd, buffer);
		if (r == 0) {
			free(buf);
			return 1;
		}
	}
	free(buf);
	if (ioctl(fd, SNDRV_PCM_IOCTL_DRAIN) < 0)
		return fail("DRAIN");
	printf("played %ld frames (buffer %u)\n", done, buffer);
	return 0;
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* The longest DROP and close may take in stall: half of snd-bcm2835's reply timeout. */
#define STALL_CLOSE_MAX_S 5.0

static int stall(int fd)
{
	unsigned int buffer = setup(fd, 16, 2, 48000);
	static unsigned char buf[4 * 4800];
	snd_pcm_sframes_t d0, d1;
	struct snd_xferi x = { .buf = buf, .frames = 4800 };
	double t;

	if (!buffer)
		return 1;
	if (ioctl(fd, SNDRV_PCM_IOCTL_WRITEI_FRAMES, &x) < 0)
		return fail("WRITEI_FRAMES");
	if (ioctl(fd, SNDRV_PCM_IOCTL_DELAY, &d0) < 0)
		return fail("DELAY");
	usleep(500000);
	if (ioctl(fd, SNDRV_PCM_IOCTL_DELAY, &d1) < 0)
		return fail("DELAY");
	if (d1 != d0) {
		fprintf(stderr, "pcm-check: the stream moved (%ld -> %ld)\n", (long)d0, (long)d1);
		return 1;
	}
	t = now();
	if (ioctl(fd, SNDRV_PCM_IOCTL_DROP) < 0)
		return fail("DROP");
	if (close(fd) < 0)
		return fail("close");
	t = now() - t;
	printf("no progress in 0.5 s (delay %ld); drop and close took %.3f s\n", (long)d1, t);
	/*
	 * A driver that waited for the stalled VideoCore would wait for its reply timeout, 10 s;
	 * half of it is far from both that and a starved guest's milliseconds.
	 */
	return t < STALL_CLOSE_MAX_S ? 0 : 1;
}

/* The completed= bytes of the most recently opened connection in the simulator's auds file. */
static long auds_completed(const char *path)
{
	unsigned long seq, best = 0;
	long completed = -1, c;
	char line[512], *f;
	FILE *in = fopen(path, "r");

	if (!in)
		return -1;
	while (fgets(line, sizeof(line), in)) {
		f = strstr(line, " seq=");
		if (!f)
			continue;
		seq = strtoul(f + 5, NULL, 10);
		f = strstr(line, " completed=");
		if (!f || seq < best)
			continue;
		c = strtol(f + 11, NULL, 10);
		best = seq;
		completed = c;
	}
	fclose(in);
	return completed;
}

static int position(int fd, int bits, int ch, int rate, int seconds, const char *auds)
{
	unsigned int buffer = setup(fd, bits, ch, rate);
	long fb = ch * bits / 8, done = 0, chunk, frames = (long)rate * seconds, samples = 0;
	double sum = 0, max = 0, err;
	unsigned char *buf;
	snd_pcm_sframes_t d;
	struct snd_xferi x;
	long completed;

	if (!buffer)
		return 1;
	chunk = buffer / 4 ? buffer / 4 : 1;
	buf = calloc(chunk, fb);
	if (!buf)
		return fail("calloc");
	srand(1);
	while (done < frames) {
		x.buf = buf;
		x.frames = frames - done < chunk ? frames - done : chunk;
		x.result = 0;
		if (ioctl(fd, SNDRV_PCM_IOCTL_WRITEI_FRAMES, &x) < 0) {
			free(buf);
			return fail("WRITEI_FRAMES");
		}
		done += x.result;
		/* Somewhere between two COMPLETEs (10 ms apart), not right after the wake-up. */
		usleep(rand() % 10000);
		if (ioctl(fd, SNDRV_PCM_IOCTL_DELAY, &d) < 0) {
			free(buf);
			return fail("DELAY");
		}
		completed = auds_completed(auds);
		if (completed < 0) {
			free(buf);
			return fail(auds);
		}
		err = (double)((done - d) * fb - completed) * 1e6 / ((double)rate * fb);
		if (err < 0)
			err = -err;
		sum += err;
		if (err > max)
			max = err;
		samples++;
	}
	free(buf);
	if (ioctl(fd, SNDRV_PCM_IOCTL_DRAIN) < 0)
		return fail("DRAIN");
	printf("position: %ld samples over %ld frames (buffer %u), mean error %.0f us, max error %.0f us\n",
	       samples, done, buffer, samples ? sum / samples : 0, max);
	return 0;
}

static unsigned char *slurp(const char *path, long *len);

/* Waits for a line on stdin (the plan's go-ahead). */
static int await_line(void)
{
	char line[16];

	return fgets(line, sizeof(line), stdin) != NULL;
}

/* The stream starts only once its whole buffer is written, as aplay's (ALSA's default: a frame). */
static int start_when_full(int fd, unsigned int buffer)
{
	struct snd_pcm_sw_params sw;

	memset(&sw, 0, sizeof(sw));
	sw.period_step = 1;
	sw.avail_min = 1;
	sw.xfer_align = 1;
	sw.start_threshold = buffer;
	sw.stop_threshold = buffer;
	return ioctl(fd, SNDRV_PCM_IOCTL_SW_PARAMS, &sw);
}

/*
 * S16 stereo 48 kHz prepared; "prepared" is printed and a line awaited (the plan stops the
 * VideoCore). A whole buffer is written, which must fail (the driver's queue times out
 * midway through its DATA messages); "write failed" is printed and a line awaited (the plan
 * resumes the VideoCore). The stream is then prepared again and plays WAV's data; the plan
 * compares the capture with it.
 *
 * With START: the stream starts only when its buffer is full (as aplay's), a quarter of a
 * buffer is written before the VideoCore stops and half a buffer fails; then, instead of a
 * new prepare, START: the driver must refuse it (the torn write ended the stream with XRUN),
 * or, had it been taken, the VideoCore plays what went of the torn write too, beyond what
 * the driver counts as written (the plan checks bad_counts). Then prepare and WAV as above.
 */
static int torn(int fd, const char *wavpath, int start)
{
	long wl, done = 0, frames, fb = 4;
	unsigned char *w = slurp(wavpath, &wl), *zero;
	unsigned int buffer;
	struct snd_xferi x;

	if (!w || wl < WAV_HEADER)
		return fail(wavpath);
	buffer = setup(fd, 16, 2, 48000);
	if (!buffer)
		return 1;
	zero = calloc(buffer, fb);
	if (!zero)
		return fail("calloc");
	x.buf = zero;
	if (start) {
		if (start_when_full(fd, buffer) < 0)
			return fail("SW_PARAMS");
		x.frames = buffer / 4;
		x.result = 0;
		if (ioctl(fd, SNDRV_PCM_IOCTL_WRITEI_FRAMES, &x) < 0)
			return fail("WRITEI_FRAMES (a quarter)");
	}
	printf("prepared (buffer %u frames)\n", buffer);
	fflush(stdout);
	if (!await_line())
		return fail("stdin");
	x.frames = start ? buffer / 2 : buffer;
	x.result = 0;
	if (ioctl(fd, SNDRV_PCM_IOCTL_WRITEI_FRAMES, &x) == 0) {
		fprintf(stderr, "pcm-check: %ld frames written to a stopped VideoCore\n",
			(long)x.result);
		return 1;
	}
	printf("write failed: %s\n", strerror(errno));
	fflush(stdout);
	if (!await_line())
		return fail("stdin");
	if (start) {
		if (ioctl(fd, SNDRV_PCM_IOCTL_START) < 0)
			printf("start refused: %s\n", strerror(errno));
		else
			printf("started\n");
		sleep(1);
	}
	if (ioctl(fd, SNDRV_PCM_IOCTL_PREPARE) < 0)
		return fail("PREPARE after the failed write");
	frames = (wl - WAV_HEADER) / fb;
	while (done < frames) {
		x.buf = w + WAV_HEADER + done * fb;
		x.frames = frames - done;
		x.result = 0;
		if (ioctl(fd, SNDRV_PCM_IOCTL_WRITEI_FRAMES, &x) < 0)
			return fail("WRITEI_FRAMES after the new PREPARE");
		done += x.result;
	}
	if (ioctl(fd, SNDRV_PCM_IOCTL_DRAIN) < 0)
		return fail("DRAIN");
	printf("torn: the write failed, the stream prepared again played %ld frames\n", done);
	free(zero);
	free(w);
	return 0;
}

/* Writes VALUE to the simulator's knob file PATH. */
static int knob(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, value, strlen(value));
	close(fd);
	return n == (ssize_t)strlen(value) ? 0 : -1;
}

/*
 * A whole buffer played between two reads of the position, ROUNDS times. S16 stereo 48 kHz
 * in two 10 ms periods, started full; the simulator's doorbell is held (HOLD, its hold knob)
 * while the VideoCore plays the whole buffer, then the COMPLETEs reach the ARM as one batch
 * while the position is read every 2 ms (each read is "recent" for ALSA's check of a late
 * period report). The driver's position modulo the buffer is then where it was: unless the
 * driver reports the progress, ALSA sees nothing played and the stream stands still with a
 * full buffer. Every frame was played, so within 2 s ALSA must find the stream underrun
 * (EPIPE: the stop threshold is the buffer); every round is played, and the ones that stood
 * still are counted.
 */
static int wrap(int fd, const char *hold, int rounds)
{
	snd_pcm_sframes_t d = 0;
	struct snd_xferi x;
	unsigned int buffer;
	unsigned char *zero;
	int round, ended, still = 0, r = 1;
	double t;

	want_periods = 2;
	want_period_us = 10000;
	buffer = setup(fd, 16, 2, 48000);
	if (!buffer)
		return 1;
	if (start_when_full(fd, buffer) < 0)
		return fail("SW_PARAMS");
	zero = calloc(buffer, 4);
	if (!zero)
		return fail("calloc");
	for (round = 1; round <= rounds; round++) {
		if (round > 1 && ioctl(fd, SNDRV_PCM_IOCTL_PREPARE) < 0) {
			fail("PREPARE");
			goto out;
		}
		if (knob(hold, "100000") < 0) {
			fail(hold);
			goto out;
		}
		x.buf = zero;
		x.frames = buffer;
		x.result = 0;
		if (ioctl(fd, SNDRV_PCM_IOCTL_WRITEI_FRAMES, &x) < 0) {
			fail("WRITEI_FRAMES");
			goto out;
		}
		/* The VideoCore plays the 20 ms; its COMPLETEs wait for the doorbell. */
		usleep(300000);
		if (knob(hold, "0") < 0) {
			fail(hold);
			goto out;
		}
		ended = 0;
		for (t = now(); !ended && now() - t < 2; usleep(2000)) {
			if (ioctl(fd, SNDRV_PCM_IOCTL_DELAY, &d) < 0)
				ended = errno;
		}
		if (ended && ended != EPIPE) {
			errno = ended;
			fail("DELAY");
			goto out;
		}
		if (!ended) {
			fprintf(stderr,
				"pcm-check: round %d: the stream stood still for 2 s with every frame played (delay %ld of %u)\n",
				round, (long)d, buffer);
			still++;
			ioctl(fd, SNDRV_PCM_IOCTL_DROP);
		}
	}
	if (still) {
		fprintf(stderr, "pcm-check: wrap: %d of %d rounds stood still\n", still, rounds);
		goto out;
	}
	printf("wrap: %d rounds, each buffer played between two reads was seen played\n", rounds);
	r = 0;
out:
	free(zero);
	return r;
}

static void le(FILE *f, unsigned int v, int n)
{
	while (n--) {
		fputc(v & 0xff, f);
		v >>= 8;
	}
}

static int wav(const char *path, int bits, int ch, int rate, long frames, unsigned int seed)
{
	unsigned long bytes = frames * ch * bits / 8, i;
	FILE *f = fopen(path, "wb");

	if (!f)
		return fail(path);
	fputs("RIFF", f);
	le(f, 36 + bytes, 4);
	fputs("WAVEfmt ", f);
	le(f, 16, 4);
	le(f, 1, 2);
	le(f, ch, 2);
	le(f, rate, 4);
	le(f, rate * ch * bits / 8, 4);
	le(f, ch * bits / 8, 2);
	le(f, bits, 2);
	fputs("data", f);
	le(f, bytes, 4);
	for (i = 0; i < bytes; i++) {
		seed = seed * 1103515245 + 12345;
		fputc(seed >> 16, f);
	}
	return fclose(f) ? fail(path) : 0;
}

static unsigned char *slurp(const char *path, long *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *b = NULL;
	long n = 0, cap = 0;
	size_t r;

	if (!f)
		return NULL;
	for (;;) {
		if (n == cap) {
			cap = cap ? 2 * cap : 65536;
			b = realloc(b, cap);
			if (!b)
				break;
		}
		r = fread(b + n, 1, cap - n, f);
		if (!r)
			break;
		n += r;
	}
	fclose(f);
	*len = n;
	return b;
}

static unsigned int le_at(const unsigned char *b, int n)
{
	unsigned int v = 0;

	while (n--)
		v = v << 8 | b[n];
	return v;
}

/* Writes FRAMES from BUF, recovering from underruns (EPIPE) with PREPARE as aplay does. */
static int write_all(int fd, const unsigned char *buf, long frames, long fb)
{
	struct snd_xferi x;
	long done = 0;

	while (done < frames) {
		x.buf = (void *)(buf + done * fb);
		x.frames = frames - done;
		x.result = 0;
		if (ioctl(fd, SNDRV_PCM_IOCTL_WRITEI_FRAMES, &x) == 0) {
			done += x.result;
			continue;
		}
		if (errno != EPIPE)
			return fail("WRITEI_FRAMES");
		if (ioctl(fd, SNDRV_PCM_IOCTL_PREPARE) < 0)
			return fail("PREPARE after an underrun");
	}
	return 0;
}

/* A non-blocking DRAIN, then STATUS until the stream is SETUP (drained), at most 60 s. */
static int drain(int fd)
{
	struct snd_pcm_status st;
	double t = now();

	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
		return fail("O_NONBLOCK");
	if (ioctl(fd, SNDRV_PCM_IOCTL_DRAIN) < 0 && errno != EAGAIN)
		return fail("DRAIN");
	for (;;) {
		memset(&st, 0, sizeof(st));
		if (ioctl(fd, SNDRV_PCM_IOCTL_STATUS, &st) < 0)
			return fail("STATUS");
		if (st.state != SNDRV_PCM_STATE_DRAINING)
			break;
		if (now() - t > 60) {
			fprintf(stderr, "pcm-check: still draining after 60 s\n");
			return 1;
		}
		usleep(10000);
	}
	if (st.state != SNDRV_PCM_STATE_SETUP) {
		fprintf(stderr, "pcm-check: the drain ended in state %d\n", (int)st.state);
		return 1;
	}
	return 0;
}

/*
 * Plays WAV (its header as `wav` writes it) as aplay does: up to 0.5 s or 128 KiB of
 * buffer in 4 periods, started when the buffer is full, an underrun recovered with PREPARE.
 * The drain does not use ALSA's drain timeout (1.1 buffer times, at least 100 ms without a
 * period, which a driver cannot change): with the fastest streams' buffers (43 ms at 192 kHz
 * 8ch S16) a guest the host starves ends aplay's drain early, and the capture is short. The
 * drain here is non-blocking and its end polled (at most 60 s).
 */
static int wavplay(int fd, const char *wavpath)
{
	long wl, fb, bps;
	unsigned char *w = slurp(wavpath, &wl);
	unsigned int buffer, ch, rate, bits;
	int r;

	if (!w || wl < WAV_HEADER)
		return fail(wavpath);
	ch = le_at(w + 22, 2);
	rate = le_at(w + 24, 4);
	bits = le_at(w + 34, 2);
	fb = (long)ch * bits / 8;
	if (!fb || !rate || (bits != 8 && bits != 16)) {
		fprintf(stderr, "pcm-check: %s: not a WAV of ours\n", wavpath);
		free(w);
		return 2;
	}
	bps = fb * rate;
	want_periods = 4;
	want_buffer_bytes_max = bps / 2 < 131072 ? bps / 2 : 131072;
	/* A little under a quarter of that: the kernel takes the shortest period that fits. */
	want_period_us_min = (unsigned int)(want_buffer_bytes_max / 4 * 900000LL / bps);
	buffer = setup(fd, bits, ch, rate);
	r = buffer ? 0 : 1;
	if (!r && start_when_full(fd, buffer) < 0)
		r = fail("SW_PARAMS");
	if (!r)
		r = write_all(fd, w + WAV_HEADER, (wl - WAV_HEADER) / fb, fb);
	if (!r)
		r = drain(fd);
	if (!r)
		printf("wavplay: %ld frames (buffer %u frames)\n", (wl - WAV_HEADER) / fb, buffer);
	free(w);
	return r;
}

static int same(const char *wavpath, const char *cappath)
{
	long wl, cl, i, len;
	unsigned char *w = slurp(wavpath, &wl), *c = slurp(cappath, &cl), silence;

	if (!w || !c || wl < WAV_HEADER)
		return fail("reading the files");
	len = wl - WAV_HEADER;
	silence = w[34] == 8 ? 0x80 : 0x00;
	if (cl < len) {
		fprintf(stderr, "pcm-check: capture of %ld bytes, the WAV has %ld\n", cl, len);
		return 1;
	}
	for (i = 0; i < len; i++) {
		if (c[i] != w[WAV_HEADER + i]) {
			fprintf(stderr, "pcm-check: capture differs at byte %ld of %ld\n", i, len);
			return 1;
		}
	}
	for (; i < cl; i++) {
		if (c[i] != silence) {
			fprintf(stderr, "pcm-check: padding byte %ld is %#x, not silence\n", i, c[i]);
			return 1;
		}
	}
	printf("same: %ld bytes, then %ld bytes of silence\n", len, cl - len);
	free(w);
	free(c);
	return 0;
}

int main(int argc, char **argv)
{
	int fd;

	if (argc == 8 && !strcmp(argv[1], "wav"))
		return wav(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), atol(argv[6]),
			   strtoul(argv[7], NULL, 0));
	if (argc == 4 && !strcmp(argv[1], "same"))
		return same(argv[2], argv[3]);
	if (argc < 3)
		goto usage;
	fd = open(argv[2], O_RDWR);
	if (fd < 0)
		return fail(argv[2]);
	if (!strcmp(argv[1], "limits"))
		return limits(fd);
	if (!strcmp(argv[1], "play") && (argc == 7 || argc == 9)) {
		if (argc == 9) {
			want_periods = strtoul(argv[7], NULL, 0);
			want_period_us = strtoul(argv[8], NULL, 0);
		}
		return play(fd, atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), atol(argv[6]));
	}
	if (!strcmp(argv[1], "stall"))
		return stall(fd);
	if (!strcmp(argv[1], "torn") && (argc == 4 || (argc == 5 && !strcmp(argv[4], "start"))))
		return torn(fd, argv[3], argc == 5);
	if (!strcmp(argv[1], "position") && argc == 8)
		return position(fd, atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), atoi(argv[6]),
				argv[7]);
	if (!strcmp(argv[1], "wavplay") && argc == 4)
		return wavplay(fd, argv[3]);
	if (!strcmp(argv[1], "wrap") && argc == 5)
		return wrap(fd, argv[3], atoi(argv[4]));
usage:
	fprintf(stderr, "usage: pcm-check limits|stall DEV |\n"
		"       play DEV BITS CHANNELS RATE FRAMES [PERIODS PERIOD_US] |\n"
		"       position DEV BITS CHANNELS RATE SECONDS AUDS | torn DEV WAV [start] |\n"
		"       wavplay DEV WAV | wrap DEV HOLD ROUNDS |\n"
		"       wav FILE BITS CHANNELS RATE FRAMES SEED | same WAV CAPTURE\n");
	return 2;
}
