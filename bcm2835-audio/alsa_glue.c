// SPDX-License-Identifier: GPL-2.0
/*
 * snd-bcm2835's ALSA layer, C half: what the 7.3 Rust `kernel` crate lacks for a sound
 * driver. The Rust half (alsa.rs) wraps each function in a safe type; nothing else in the
 * driver calls ALSA.
 *
 * - a card (snd_card_new, register, free);
 * - a playback PCM whose ops call a table of Rust callbacks, with the indirect-PCM helper
 *   (pcm-indirect.h is static inline) between the ALSA buffer and the callbacks, managed
 *   vmalloc buffers, and a work item per open substream that reports period boundaries and
 *   underruns in process context (the callers are VCHIQ callbacks, which must not take the
 *   PCM stream lock: a prepare holding it may be waiting for them), and how long those
 *   reports take, per PCM in /proc/asound/<card>/pcm<device>p-reports;
 * - integer controls with a dB-scale TLV, boolean controls and IEC958 status controls, whose
 *   get and put call a table of Rust callbacks.
 */

#include <linux/device.h>
#include <linux/ktime.h>
#include <linux/math64.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/workqueue.h>
#include <sound/asoundef.h>
#include <sound/control.h>
#include <sound/core.h>
#include <sound/info.h>
#include <sound/pcm.h>
#include <sound/pcm-indirect.h>
#include <sound/tlv.h>

/* Mirrored in alsa.rs (`Hardware`). */
struct snd_rs_pcm_hw {
	u32 formats;		/* SND_RS_FMT_* */
	u32 rate_min;
	u32 rate_max;
	u32 channels_min;
	u32 channels_max;
	u32 buffer_bytes_max;
	u32 period_bytes_min;
	u32 period_bytes_max;
	u32 periods_min;
	u32 periods_max;
	u32 period_bytes_step;
	u32 period_time_min_us;
	u32 period_wait_min_ms;	/* see alsa.rs */
};

/* The layout alsa.rs asserts for `Hardware`, checked here too. */
static_assert(sizeof(struct snd_rs_pcm_hw) == 13 * sizeof(u32));

#define SND_RS_FMT_U8		BIT(0)
#define SND_RS_FMT_S16_LE	BIT(1)

/* Mirrored in alsa.rs (`Format`). */
struct snd_rs_format {
	u32 channels;
	u32 rate;
	u32 width;
	u32 buffer_bytes;
	u32 period_bytes;
};

struct snd_rs_stream;

/* Mirrored in alsa.rs (`RawPcmOps`); implemented by the Rust trampolines. */
struct snd_rs_pcm_ops {
	int (*open)(void *priv, unsigned int number, struct snd_rs_stream *s, void **stream);
	void (*close)(void *stream);
	int (*prepare)(void *stream, const struct snd_rs_format *fmt);
	int (*trigger)(void *stream, int start);
	int (*transfer)(void *stream, const void *data, size_t bytes);
	u32 (*pointer)(void *stream);
};

/* Mirrored in alsa.rs (`RawCtlOps`). */
struct snd_rs_ctl_ops {
	int (*get)(void *priv, u32 id, long *value);
	int (*put)(void *priv, u32 id, long value);
	int (*get_iec958)(void *priv, u32 id, u8 *status);
	int (*put_iec958)(void *priv, u32 id, const u8 *status);
};

#define SND_RS_IEC958_BYTES 4

/*
 * How long period reports take from the boundary (the COMPLETE that crossed it) until
 * snd_pcm_period_elapsed() returned, over every substream of a PCM since the card was created:
 * /proc/asound/<card>/pcm<device>p-reports ("reports N total_us T max_us M"; make bench).
 */
struct snd_rs_reports {
	atomic64_t count;
	atomic64_t total_ns;
	atomic64_t max_ns;
};

/* One PCM: its hardware description and callbacks (pcm->private_data). */
struct snd_rs_pcm {
	struct snd_pcm_hardware hw;
	u32 period_bytes_step;
	u32 period_time_min_us;
	u32 period_wait_min_ms;
	const struct snd_rs_pcm_ops *ops;
	void *priv;
	struct snd_rs_reports reports;
};

/* One open substream (runtime->private_data). */
struct snd_rs_stream {
	struct snd_pcm_substream *substream;
	struct snd_rs_pcm *pcm;
	const struct snd_rs_pcm_ops *ops;
	void *priv;
	struct snd_pcm_indirect ind;
	struct work_struct work;
	/* ktime (ns) of the first boundary not yet reported to ALSA; 0: none. */
	atomic64_t elapsed_at;
	atomic_t played_out;
	atomic_t xrun;
	int error;
};

/* One control (kcontrol->private_data). */
struct snd_rs_ctl {
	const struct snd_rs_ctl_ops *ops;
	void *priv;
	u32 id;
	long min;
	long max;
	unsigned int tlv[4];
};

int snd_rs_card_new(void *parent, const char *id, const char *driver,
		    const char *shortname, const char *longname, struct snd_card **out);
int snd_rs_card_register(struct snd_card *card);
void snd_rs_card_free(struct snd_card *card);
int snd_rs_pcm_new(struct snd_card *card, const char *name, int device, int substreams,
		   const struct snd_rs_pcm_hw *hw, const struct snd_rs_pcm_ops *ops, void *priv);
void snd_rs_stream_elapsed(struct snd_rs_stream *s);
void snd_rs_stream_xrun(struct snd_rs_stream *s);
void snd_rs_stream_played_out(struct snd_rs_stream *s);
int snd_rs_ctl_add_integer(struct snd_card *card, const char *name, u32 id, long min, long max,
			   int db_min, int db_step, const struct snd_rs_ctl_ops *ops, void *priv);
int snd_rs_ctl_add_boolean(struct snd_card *card, const char *name, u32 id,
			   const struct snd_rs_ctl_ops *ops, void *priv);
int snd_rs_ctl_add_iec958(struct snd_card *card, const char *name, u32 id, bool mask,
			  const struct snd_rs_ctl_ops *ops, void *priv);

int snd_rs_card_new(void *parent, const char *id, const char *driver,
		    const char *shortname, const char *longname, struct snd_card **out)
{
	struct snd_card *card;
	int ret;

	ret = snd_card_new(parent, -1, id, THIS_MODULE, 0, &card);
	if (ret)
		return ret;
	strscpy(card->driver, driver, sizeof(card->driver));
	strscpy(card->shortname, shortname, sizeof(card->shortname));
	strscpy(card->longname, longname, sizeof(card->longname));
	*out = card;
	return 0;
}

int snd_rs_card_register(struct snd_card *card)
{
	return snd_card_register(card);
}

/* Disconnects the card (open streams fail from now on) and waits until every file is closed. */
void snd_rs_card_free(struct snd_card *card)
{
	snd_card_free(card);
}

static void snd_rs_reports_add(struct snd_rs_reports *r, u64 ns)
{
	s64 max = atomic64_read(&r->max_ns);

	atomic64_inc(&r->count);
	atomic64_add(ns, &r->total_ns);
	while ((s64)ns > max && !atomic64_try_cmpxchg(&r->max_ns, &max, ns))
		;
}

static void snd_rs_reports_show(struct snd_info_entry *entry, struct snd_info_buffer *buf)
{
	struct snd_rs_reports *r = entry->private_data;

	snd_iprintf(buf, "reports %lld total_us %lld max_us %lld\n",
		    (long long)atomic64_read(&r->count),
		    (long long)div_u64(atomic64_read(&r->total_ns), NSEC_PER_USEC),
		    (long long)div_u64(atomic64_read(&r->max_ns), NSEC_PER_USEC));
}

/* Reports what the Rust side asked for, in process context. */
static void snd_rs_stream_work(struct work_struct *work)
{
	struct snd_rs_stream *s = container_of(work, struct snd_rs_stream, work);
	u64 elapsed_at;

	if (atomic_xchg(&s->xrun, 0))
		snd_pcm_stop_xrun(s->substream);
	elapsed_at = atomic64_xchg(&s->elapsed_at, 0);
	if (elapsed_at) {
		snd_pcm_period_elapsed(s->substream);
		snd_rs_reports_add(&s->pcm->reports, ktime_get_ns() - elapsed_at);
	}
	if (atomic_read(&s->played_out)) {
		/*
		 * Only while draining: a report with less than a period moved counts as a whole
		 * period for ALSA, and when late as a whole buffer (pcm_lib.c). Kept until new
		 * data goes out, for a drain that starts after the last byte played.
		 */
		snd_pcm_stream_lock_irq(s->substream);
		if (s->substream->runtime->state == SNDRV_PCM_STATE_DRAINING &&
		    atomic_xchg(&s->played_out, 0))
			snd_pcm_period_elapsed_under_stream_lock(s->substream);
		snd_pcm_stream_unlock_irq(s->substream);
	}
}

/*
 * A period boundary was crossed. Any context; until the stream's close callback returned.
 * The time of the first boundary not yet reported is kept: the work tells the Rust side how
 * long the report took to reach ALSA.
 */
void snd_rs_stream_elapsed(struct snd_rs_stream *s)
{
	atomic64_cmpxchg(&s->elapsed_at, 0, ktime_get_ns() ?: 1);
	schedule_work(&s->work);
}

/* Everything written was played, not at a period boundary. As above. */
void snd_rs_stream_played_out(struct snd_rs_stream *s)
{
	atomic_set(&s->played_out, 1);
	schedule_work(&s->work);
}

/* The stream underran (or its position cannot be trusted): stop it with XRUN. As above. */
void snd_rs_stream_xrun(struct snd_rs_stream *s)
{
	atomic_set(&s->xrun, 1);
	schedule_work(&s->work);
}

static int snd_rs_pcm_open(struct snd_pcm_substream *substream)
{
	struct snd_rs_pcm *p = snd_pcm_substream_chip(substream);
	struct snd_pcm_runtime *runtime = substream->runtime;
	struct snd_rs_stream *s;
	int ret;

	s = kzalloc_obj(*s, GFP_KERNEL);
	if (!s)
		return -ENOMEM;
	s->substream = substream;
	s->pcm = p;
	s->ops = p->ops;
	INIT_WORK(&s->work, snd_rs_stream_work);
	ret = p->ops->open(p->priv, substream->number, s, &s->priv);
	if (ret) {
		kfree(s);
		return ret;
	}
	runtime->private_data = s;
	runtime->hw = p->hw;
	ret = snd_pcm_hw_constraint_step(runtime, 0, SNDRV_PCM_HW_PARAM_PERIOD_BYTES,
					 p->period_bytes_step);
	if (!ret)
		ret = snd_pcm_hw_constraint_minmax(runtime, SNDRV_PCM_HW_PARAM_PERIOD_TIME,
						   p->period_time_min_us, UINT_MAX);
	if (ret < 0) {
		p->ops->close(s->priv);
		cancel_work_sync(&s->work);
		runtime->private_data = NULL;
		kfree(s);
		return ret;
	}
	return 0;
}

/* The Rust side ends every report before close returns; the work is cancelled after it. */
static int snd_rs_pcm_close(struct snd_pcm_substream *substream)
{
	struct snd_rs_stream *s = substream->runtime->private_data;

	s->ops->close(s->priv);
	cancel_work_sync(&s->work);
	substream->runtime->private_data = NULL;
	kfree(s);
	return 0;
}

static int snd_rs_pcm_prepare(struct snd_pcm_substream *substream)
{
	struct snd_pcm_runtime *runtime = substream->runtime;
	struct snd_rs_stream *s = runtime->private_data;
	struct snd_rs_format fmt = {
		.channels = runtime->channels,
		.rate = runtime->rate,
		.width = snd_pcm_format_width(runtime->format),
		.buffer_bytes = snd_pcm_lib_buffer_bytes(substream),
		.period_bytes = snd_pcm_lib_period_bytes(substream),
	};
	int ret;

	ret = s->ops->prepare(s->priv, &fmt);
	if (ret)
		return ret;
	/*
	 * How long a write waits for room before ALSA fails it with EIO: its own 1.1 buffer
	 * times (wait_for_avail()), but at least period_wait_min_ms.
	 */
	substream->wait_time = max_t(long, div_u64((u64)runtime->buffer_size * 1100, runtime->rate),
				     s->pcm->period_wait_min_ms);
	memset(&s->ind, 0, sizeof(s->ind));
	s->ind.hw_buffer_size = fmt.buffer_bytes;
	s->ind.sw_buffer_size = fmt.buffer_bytes;
	s->error = 0;
	atomic_set(&s->xrun, 0);
	atomic64_set(&s->elapsed_at, 0);
	atomic_set(&s->played_out, 0);
	return 0;
}

static int snd_rs_pcm_trigger(struct snd_pcm_substream *substream, int cmd)
{
	struct snd_rs_stream *s = substream->runtime->private_data;

	switch (cmd) {
	case SNDRV_PCM_TRIGGER_START:
		return s->ops->trigger(s->priv, 1);
	case SNDRV_PCM_TRIGGER_STOP:
		return s->ops->trigger(s->priv, 0);
	case SNDRV_PCM_TRIGGER_DRAIN:
		/* Nothing for the VideoCore; a drain after the last byte played ends now. */
		schedule_work(&s->work);
		return 0;
	default:
		return -EINVAL;
	}
}

static snd_pcm_uframes_t snd_rs_pcm_pointer(struct snd_pcm_substream *substream)
{
	struct snd_rs_stream *s = substream->runtime->private_data;

	return snd_pcm_indirect_playback_pointer(substream, &s->ind, s->ops->pointer(s->priv));
}

static void snd_rs_pcm_copy(struct snd_pcm_substream *substream, struct snd_pcm_indirect *rec,
			    size_t bytes)
{
	struct snd_rs_stream *s = substream->runtime->private_data;
	int ret;

	if (s->error)
		return;
	atomic_set(&s->played_out, 0);
	ret = s->ops->transfer(s->priv, substream->runtime->dma_area + rec->sw_data, bytes);
	if (ret)
		s->error = ret;
}

/* The application moved appl_ptr: hand the new data over. */
static int snd_rs_pcm_ack(struct snd_pcm_substream *substream)
{
	struct snd_rs_stream *s = substream->runtime->private_data;
	int ret;

	ret = snd_pcm_indirect_playback_transfer(substream, &s->ind, snd_rs_pcm_copy);
	return ret ? ret : s->error;
}

static const struct snd_pcm_ops snd_rs_playback_ops = {
	.open = snd_rs_pcm_open,
	.close = snd_rs_pcm_close,
	.prepare = snd_rs_pcm_prepare,
	.trigger = snd_rs_pcm_trigger,
	.pointer = snd_rs_pcm_pointer,
	.ack = snd_rs_pcm_ack,
};

static void snd_rs_pcm_free(struct snd_pcm *pcm)
{
	kfree(pcm->private_data);
}

/* A playback PCM with `substreams` substreams and a managed vmalloc buffer per substream. */
int snd_rs_pcm_new(struct snd_card *card, const char *name, int device, int substreams,
		   const struct snd_rs_pcm_hw *hw, const struct snd_rs_pcm_ops *ops, void *priv)
{
	struct snd_rs_pcm *p;
	struct snd_pcm *pcm;
	char proc[24];
	int ret;

	p = kzalloc_obj(*p, GFP_KERNEL);
	if (!p)
		return -ENOMEM;
	p->hw = (struct snd_pcm_hardware) {
		.info = SNDRV_PCM_INFO_INTERLEAVED | SNDRV_PCM_INFO_BLOCK_TRANSFER |
			SNDRV_PCM_INFO_MMAP | SNDRV_PCM_INFO_MMAP_VALID |
			SNDRV_PCM_INFO_SYNC_APPLPTR | SNDRV_PCM_INFO_BATCH |
			SNDRV_PCM_INFO_DRAIN_TRIGGER,
		.rates = SNDRV_PCM_RATE_CONTINUOUS | SNDRV_PCM_RATE_8000_192000,
		.rate_min = hw->rate_min,
		.rate_max = hw->rate_max,
		.channels_min = hw->channels_min,
		.channels_max = hw->channels_max,
		.buffer_bytes_max = hw->buffer_bytes_max,
		.period_bytes_min = hw->period_bytes_min,
		.period_bytes_max = hw->period_bytes_max,
		.periods_min = hw->periods_min,
		.periods_max = hw->periods_max,
	};
	if (hw->formats & SND_RS_FMT_U8)
		p->hw.formats |= SNDRV_PCM_FMTBIT_U8;
	if (hw->formats & SND_RS_FMT_S16_LE)
		p->hw.formats |= SNDRV_PCM_FMTBIT_S16_LE;
	p->period_bytes_step = hw->period_bytes_step;
	p->period_time_min_us = hw->period_time_min_us;
	p->period_wait_min_ms = hw->period_wait_min_ms;
	p->ops = ops;
	p->priv = priv;

	ret = snd_pcm_new(card, name, device, substreams, 0, &pcm);
	if (ret) {
		kfree(p);
		return ret;
	}
	pcm->private_data = p;
	pcm->private_free = snd_rs_pcm_free;
	pcm->nonatomic = true;
	strscpy(pcm->name, name, sizeof(pcm->name));
	snd_pcm_set_ops(pcm, SNDRV_PCM_STREAM_PLAYBACK, &snd_rs_playback_ops);
	snd_pcm_set_managed_buffer_all(pcm, SNDRV_DMA_TYPE_VMALLOC, NULL,
				       hw->buffer_bytes_max, hw->buffer_bytes_max);
	/* Removed with the card's other entries, before the PCM (and p) is freed. */
	snprintf(proc, sizeof(proc), "pcm%dp-reports", device);
	return snd_card_ro_proc_new(card, proc, &p->reports, snd_rs_reports_show);
}

static int snd_rs_ctl_info_integer(struct snd_kcontrol *kctl, struct snd_ctl_elem_info *info)
{
	struct snd_rs_ctl *c = kctl->private_data;

	info->type = c->max == 1 && c->min == 0 ? SNDRV_CTL_ELEM_TYPE_BOOLEAN :
		     SNDRV_CTL_ELEM_TYPE_INTEGER;
	info->count = 1;
	info->value.integer.min = c->min;
	info->value.integer.max = c->max;
	return 0;
}

static int snd_rs_ctl_get(struct snd_kcontrol *kctl, struct snd_ctl_elem_value *v)
{
	struct snd_rs_ctl *c = kctl->private_data;

	return c->ops->get(c->priv, c->id, &v->value.integer.value[0]);
}

static int snd_rs_ctl_put(struct snd_kcontrol *kctl, struct snd_ctl_elem_value *v)
{
	struct snd_rs_ctl *c = kctl->private_data;
	long value = v->value.integer.value[0];

	if (value < c->min || value > c->max)
		return -EINVAL;
	return c->ops->put(c->priv, c->id, value);
}

static int snd_rs_ctl_info_iec958(struct snd_kcontrol *kctl, struct snd_ctl_elem_info *info)
{
	info->type = SNDRV_CTL_ELEM_TYPE_IEC958;
	info->count = 1;
	return 0;
}

static int snd_rs_ctl_get_iec958(struct snd_kcontrol *kctl, struct snd_ctl_elem_value *v)
{
	struct snd_rs_ctl *c = kctl->private_data;

	return c->ops->get_iec958(c->priv, c->id, v->value.iec958.status);
}

static int snd_rs_ctl_put_iec958(struct snd_kcontrol *kctl, struct snd_ctl_elem_value *v)
{
	struct snd_rs_ctl *c = kctl->private_data;

	return c->ops->put_iec958(c->priv, c->id, v->value.iec958.status);
}

static void snd_rs_ctl_free(struct snd_kcontrol *kctl)
{
	kfree(kctl->private_data);
}

static int snd_rs_ctl_add(struct snd_card *card, struct snd_kcontrol_new *tmpl,
			  struct snd_rs_ctl *c)
{
	struct snd_kcontrol *kctl;

	tmpl->iface = SNDRV_CTL_ELEM_IFACE_MIXER;
	tmpl->private_value = 0;
	kctl = snd_ctl_new1(tmpl, c);
	if (!kctl) {
		kfree(c);
		return -ENOMEM;
	}
	kctl->private_free = snd_rs_ctl_free;
	/* snd_ctl_add frees the control on failure. */
	return snd_ctl_add(card, kctl);
}

static struct snd_rs_ctl *snd_rs_ctl_alloc(u32 id, const struct snd_rs_ctl_ops *ops, void *priv)
{
	struct snd_rs_ctl *c = kzalloc_obj(*c, GFP_KERNEL);

	if (c) {
		c->ops = ops;
		c->priv = priv;
		c->id = id;
	}
	return c;
}

/* An integer control in [min, max]; with db_step != 0, a dB-scale TLV (0.01 dB, min muted). */
int snd_rs_ctl_add_integer(struct snd_card *card, const char *name, u32 id, long min, long max,
			   int db_min, int db_step, const struct snd_rs_ctl_ops *ops, void *priv)
{
	struct snd_kcontrol_new tmpl = {
		.name = name,
		.access = SNDRV_CTL_ELEM_ACCESS_READWRITE,
		.info = snd_rs_ctl_info_integer,
		.get = snd_rs_ctl_get,
		.put = snd_rs_ctl_put,
	};
	struct snd_rs_ctl *c = snd_rs_ctl_alloc(id, ops, priv);

	if (!c)
		return -ENOMEM;
	c->min = min;
	c->max = max;
	if (db_step) {
		c->tlv[0] = SNDRV_CTL_TLVT_DB_SCALE;
		c->tlv[1] = 2 * sizeof(unsigned int);
		c->tlv[2] = (unsigned int)db_min;
		c->tlv[3] = (db_step & TLV_DB_SCALE_MASK) | TLV_DB_SCALE_MUTE;
		tmpl.access |= SNDRV_CTL_ELEM_ACCESS_TLV_READ;
		tmpl.tlv.p = c->tlv;
	}
	return snd_rs_ctl_add(card, &tmpl, c);
}

int snd_rs_ctl_add_boolean(struct snd_card *card, const char *name, u32 id,
			   const struct snd_rs_ctl_ops *ops, void *priv)
{
	return snd_rs_ctl_add_integer(card, name, id, 0, 1, 0, 0, ops, priv);
}

/* An IEC958 status control: read-write, or (`mask`) read-only. */
int snd_rs_ctl_add_iec958(struct snd_card *card, const char *name, u32 id, bool mask,
			  const struct snd_rs_ctl_ops *ops, void *priv)
{
	struct snd_kcontrol_new tmpl = {
		.name = name,
		.access = mask ? SNDRV_CTL_ELEM_ACCESS_READ : SNDRV_CTL_ELEM_ACCESS_READWRITE,
		.info = snd_rs_ctl_info_iec958,
		.get = snd_rs_ctl_get_iec958,
		.put = mask ? NULL : snd_rs_ctl_put_iec958,
	};
	struct snd_rs_ctl *c = snd_rs_ctl_alloc(id, ops, priv);

	if (!c)
		return -ENOMEM;
	return snd_rs_ctl_add(card, &tmpl, c);
}
