// SPDX-License-Identifier: GPL-2.0
/* What vchiq-dev needs from static inline kernel functions. */

#include <linux/sched/signal.h>

bool vchiq_dev_fatal_signal_pending(void);

bool vchiq_dev_fatal_signal_pending(void)
{
	return fatal_signal_pending(current);
}
