/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel service API of vchiq-core (Rust), exported to other modules.
 *
 * It keeps the names, types and semantics of the mainline C API
 * (include/linux/raspberrypi/vchiq.h) so that existing C clients build against it
 * unchanged; the differences are listed in Documentation/architecture.rst ("C ABI").
 *
 * This header is the only definition of the boundary: the Rust side (vchiq-core's exported
 * functions and the typed client API include/vchiq-rs/client.rs, which every Rust client
 * uses) is generated from it by bindgen at build time (include/vchiq-rs/bindings.mk), and
 * vchiq-core's build fails if a definition does not match its prototype here.
 *
 * A client finds its `struct vchiq_state` through the auxiliary device vchiq-core created
 * for it: vchiq_rs_aux_state(adev) while the device is bound, or a counted reference with
 * vchiq_rs_state_get(adev) / vchiq_rs_state_put().
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

/*
 * What this implementation is (vchiq-rs's, not mainline's header; vchiq-core checks each
 * against its engine at build time, /dev/vchiq reports them in GET_CONFIG).
 */
#define VCHIQ_RS_MAX_MSG_SIZE 4088u	/* a slot less its header */
#define VCHIQ_RS_NUM_SERVICE_BULKS 4u	/* bulks in flight per service and direction */
#define VCHIQ_RS_MAX_SERVICES 4096u	/* as mainline reports it */
#define VCHIQ_RS_VERSION 8		/* protocol version */
#define VCHIQ_RS_VERSION_MIN 3

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
/* A reference on the state of @adev that stays valid until vchiq_rs_state_put(). */
struct vchiq_state *vchiq_rs_state_get(struct auxiliary_device *adev);
void vchiq_rs_state_put(struct vchiq_state *state);

int vchiq_initialise(struct vchiq_state *state, struct vchiq_instance **pinstance);
int vchiq_shutdown(struct vchiq_instance *instance);
int vchiq_connect(struct vchiq_instance *instance);
int vchiq_open_service(struct vchiq_instance *instance,
		       const struct vchiq_service_params_kernel *params, unsigned int *pservice);
int vchiq_close_service(struct vchiq_instance *instance, unsigned int service);
/*
 * A server service the VideoCore may open (SERVICE_OPENED, then SERVICE_CLOSED and listening
 * again); mainline keeps these two internal.
 */
int vchiq_add_service(struct vchiq_instance *instance,
		      const struct vchiq_service_params_kernel *params, unsigned int *pservice);
int vchiq_remove_service(struct vchiq_instance *instance, unsigned int service);
int vchiq_use_service(struct vchiq_instance *instance, unsigned int service);
int vchiq_release_service(struct vchiq_instance *instance, unsigned int service);
void vchiq_msg_queue_push(struct vchiq_instance *instance, unsigned int handle,
			  struct vchiq_header *header);
void vchiq_release_message(struct vchiq_instance *instance, unsigned int service,
			   struct vchiq_header *header);
/*
 * Waits for room in the slots and the service's quota; no signal ends the wait (a client's
 * message is often one of a sequence the VideoCore must receive whole), which ends with
 * -ETIMEDOUT after 5 s without room.
 */
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

/*
 * Extensions of vchiq-rs (not in mainline's header), for the /dev/vchiq driver and other
 * clients acting for user space.
 */

/*
 * Queues a bulk transfer of the calling process's memory at user address @data (pinned until
 * the transfer ends); @dir is 0 to transmit, 1 to receive. *@pcookie receives the transfer's
 * cookie. A BLOCKING transfer does not wait here: wait with vchiq_rs_bulk_wait() and, when
 * giving up, call vchiq_rs_bulk_forget().
 */
int vchiq_rs_bulk_user(struct vchiq_instance *instance, unsigned int service,
		       void __user *data, unsigned int size, void *userdata,
		       enum vchiq_bulk_mode mode, int dir, u32 *pcookie);
/* 0 when done, -EINVAL if aborted or unknown, -EINTR on a signal (may be waited for again). */
int vchiq_rs_bulk_wait(struct vchiq_instance *instance, u32 cookie);
void vchiq_rs_bulk_forget(struct vchiq_instance *instance, u32 cookie);
/* Slot and message quotas of a service; 0 keeps the current value. */
int vchiq_rs_set_quota(struct vchiq_instance *instance, unsigned int service, u16 slot_quota,
		       u16 msg_quota);
/*
 * Copies a message delivered to @service (the header pointer its callback got) into @buf
 * (header, then payload) and releases it. Returns the payload size, -EMSGSIZE if @len is too
 * short (the message stays held), or -EINVAL if it is not held (released, service closed).
 */
int vchiq_rs_take_message(struct vchiq_instance *instance, unsigned int service,
			  struct vchiq_header *header, void *buf, unsigned int len);
/*
 * Copies a message delivered to @service into @buf (header with the size the core
 * validated, then payload) and keeps it held. Returns the payload size, -EMSGSIZE if @len is
 * too short, or -EINVAL if it is not held.
 */
int vchiq_rs_read_message(struct vchiq_instance *instance, unsigned int service,
			  struct vchiq_header *header, void *buf, unsigned int len);
/* The client id of a service (>= 0), or a negative errno. */
int vchiq_rs_client_id(struct vchiq_instance *instance, unsigned int service);
/*
 * The client id the instance's later opens send to the VideoCore (mainline's /dev/vchiq:
 * the tgid of the process that opened the file). 0, the default, sends the opening
 * thread's pid, as mainline's kernel API does.
 */
void vchiq_rs_set_client_id(struct vchiq_instance *instance, unsigned int id);
/*
 * A blocking bulk of kernel memory (dir 0 transmits, 1 receives) that no signal interrupts:
 * it returns only once the transfer has ended (0, -EINVAL if aborted) or, after unbind
 * (-ESHUTDOWN), once vchiq-core has unmapped it, so the buffer may be reused on return.
 */
int vchiq_rs_bulk_kernel_blocking(struct vchiq_instance *instance, unsigned int service,
				  void *data, unsigned int size, int dir);
/*
 * vchiq_queue_kernel_message() for a client acting for a process (/dev/vchiq's
 * QUEUE_MESSAGE): a signal ends the wait for room with -EINTR, nothing sent.
 */
int vchiq_rs_queue_message_interruptible(struct vchiq_instance *instance, unsigned int handle,
					 void *data, unsigned int size);

#endif /* VCHIQ_RS_VCHIQ_H */
