// SPDX-License-Identifier: GPL-2.0
/*
 * Exports the service API (implemented in Rust, cabi.rs) to other modules. The Rust
 * definitions are checked against the prototypes of vchiq.h at build time (cabi.rs,
 * `matches_header!`, over the bindgen output of the same header).
 */

#include <linux/auxiliary_bus.h>
#include <linux/device.h>
#include <linux/export.h>
#include <vchiq-rs/vchiq.h>

struct vchiq_state *vchiq_rs_aux_state(struct auxiliary_device *adev)
{
	return dev_get_platdata(&adev->dev);
}
EXPORT_SYMBOL_GPL(vchiq_rs_aux_state);

EXPORT_SYMBOL_GPL(vchiq_rs_state_get);
EXPORT_SYMBOL_GPL(vchiq_rs_state_put);
EXPORT_SYMBOL_GPL(vchiq_initialise);
EXPORT_SYMBOL_GPL(vchiq_shutdown);
EXPORT_SYMBOL_GPL(vchiq_connect);
EXPORT_SYMBOL_GPL(vchiq_open_service);
EXPORT_SYMBOL_GPL(vchiq_add_service);
EXPORT_SYMBOL_GPL(vchiq_remove_service);
EXPORT_SYMBOL_GPL(vchiq_close_service);
EXPORT_SYMBOL_GPL(vchiq_use_service);
EXPORT_SYMBOL_GPL(vchiq_release_service);
EXPORT_SYMBOL_GPL(vchiq_msg_queue_push);
EXPORT_SYMBOL_GPL(vchiq_release_message);
EXPORT_SYMBOL_GPL(vchiq_queue_kernel_message);
EXPORT_SYMBOL_GPL(vchiq_bulk_transmit);
EXPORT_SYMBOL_GPL(vchiq_bulk_receive);
EXPORT_SYMBOL_GPL(vchiq_get_service_userdata);
EXPORT_SYMBOL_GPL(vchiq_get_peer_version);
EXPORT_SYMBOL_GPL(vchiq_msg_hold);
EXPORT_SYMBOL_GPL(vchiq_rs_bulk_user);
EXPORT_SYMBOL_GPL(vchiq_rs_bulk_wait);
EXPORT_SYMBOL_GPL(vchiq_rs_bulk_forget);
EXPORT_SYMBOL_GPL(vchiq_rs_set_quota);
EXPORT_SYMBOL_GPL(vchiq_rs_client_id);
EXPORT_SYMBOL_GPL(vchiq_rs_set_client_id);
EXPORT_SYMBOL_GPL(vchiq_rs_bulk_kernel_blocking);
EXPORT_SYMBOL_GPL(vchiq_rs_take_message);
EXPORT_SYMBOL_GPL(vchiq_rs_read_message);
EXPORT_SYMBOL_GPL(vchiq_rs_queue_message_interruptible);
