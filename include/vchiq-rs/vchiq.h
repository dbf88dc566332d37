/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel service API of vchiq-core (Rust), exported to other modules.
 *
 * It keeps the names, types and semantics of the mainline C API
 * (include/linux/raspberrypi/vchiq.h) so that existing C clients build against it
 * unchanged; the differences are listed in Documentation/architecture.md ("C ABI"). Rust
 * clients use the typed wrapper in include/vchiq-rs/client.rs instead.
 *
 * A client finds its `struct vchiq_state` through the auxiliary device vchiq-core created
 * for it: vchiq_rs_aux_state(adev).
 */
#ifndef VCHIQ_RS_VCHIQ_H
#define VCHIQ_RS_VCHIQ_H

#include <linux/types.h>

struct auxiliary_device;

#define VCHIQ_MAKE_FOURCC(a, b, c, d) (((a) << 24) | ((b) << 16) | ((c) << 8) | (d))

/* Why a service callback is called. */
enum vchiq_reason {
	VCHIQ_SERVICE_OPENED,
	VCHIQ_SERVICE_CLOSED,
	VCHIQ_MESSAGE_AVAILABLE,	/* header: the message; release it */
	VCHIQ_BULK_TRANSMIT_DONE,	/* cb_data: the bulk's userdata */
	VCHIQ_BULK_RECEIVE_DONE,
	VCHIQ_BULK_TRANSMIT_ABORTED,
	VCHIQ_BULK_RECEIVE_ABORTED,
};

/* How a bulk transfer reports its end. */
enum vchiq_bulk_mode {
	VCHIQ_BULK_MODE_CALLBACK,
	VCHIQ_BULK_MODE_BLOCKING,
	VCHIQ_BULK_MODE_NOCALLBACK,
	VCHIQ_BULK_MODE_WAITING,	/* user space only */
};

/* A received message, as it sits in the slot memory. */
struct vchiq_header {
	int msgid;
	unsigned int size;
	char data[];
};

struct vchiq_instance;
struct vchiq_state;

typedef int (*vchiq_callback_t)(struct vchiq_instance *instance, enum vchiq_reason reason,
				struct vchiq_header *header, unsigned int handle,
				void *cb_data, void __user *cb_userdata);

struct vchiq_service_params_kernel {
	int fourcc;
	vchiq_callback_t callback;
	void *userdata;
	short version;
	short version_min;
};

struct vchiq_state *vchiq_rs_aux_state(struct auxiliary_device *adev);

int vchiq_initialise(struct vchiq_state *state, struct vchiq_instance **pinstance);
int vchiq_shutdown(struct vchiq_instance *instance);
int vchiq_connect(struct vchiq_instance *instance);
int vchiq_open_service(struct vchiq_instance *instance,
		       const struct vchiq_service_params_kernel *params, unsigned int *pservice);
int vchiq_close_service(struct vchiq_instance *instance, unsigned int service);
int vchiq_use_service(struct vchiq_instance *instance, unsigned int service);
int vchiq_release_service(struct vchiq_instance *instance, unsigned int service);
void vchiq_msg_queue_push(struct vchiq_instance *instance, unsigned int handle,
			  struct vchiq_header *header);
void vchiq_release_message(struct vchiq_instance *instance, unsigned int service,
			   struct vchiq_header *header);
int vchiq_queue_kernel_message(struct vchiq_instance *instance, unsigned int handle,
			       void *data, unsigned int size);
int vchiq_bulk_transmit(struct vchiq_instance *instance, unsigned int service,
			const void *data, unsigned int size, void *userdata,
			enum vchiq_bulk_mode mode);
int vchiq_bulk_receive(struct vchiq_instance *instance, unsigned int service, void *data,
		       unsigned int size, void *userdata, enum vchiq_bulk_mode mode);
void *vchiq_get_service_userdata(struct vchiq_instance *instance, unsigned int service);
int vchiq_get_peer_version(struct vchiq_instance *instance, unsigned int handle,
			   short *peer_version);
struct vchiq_header *vchiq_msg_hold(struct vchiq_instance *instance, unsigned int handle);

#endif /* VCHIQ_RS_VCHIQ_H */
