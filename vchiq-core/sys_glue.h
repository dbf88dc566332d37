/* SPDX-License-Identifier: GPL-2.0 */
/* Prototypes of sys_glue.c; the Rust declarations in sys.rs must match them. */
#ifndef VCHIQ_SYS_GLUE_H
#define VCHIQ_SYS_GLUE_H

#include <linux/types.h>

struct auxiliary_device;
struct device;
struct page;
struct sg_table;
struct task_struct;

struct task_struct *vchiq_sys_kthread_start(int (*fn)(void *), void *data, const char *name);
int vchiq_sys_kthread_stop(struct task_struct *t);
int vchiq_sys_rpi_vchiq_init(u32 slot_zero, u32 *status);
void *vchiq_sys_platdata(struct device *dev);
struct auxiliary_device *vchiq_sys_aux_add(struct device *parent, const char *modname,
					   const char *name, u32 id, void *data);
void vchiq_sys_aux_del(struct auxiliary_device *adev);
struct page *vchiq_sys_buf_page(const void *addr);
void vchiq_sys_dma_keep_page_offset(struct device *dev);
struct sg_table *vchiq_sys_map_pages(struct device *dev, struct page **pages, u32 n,
				     u32 offset, u32 len, bool to_device);
void vchiq_sys_unmap_pages(struct device *dev, struct sg_table *sgt, bool to_device);
void vchiq_sys_forget_pages(struct sg_table *sgt);

void *vchiq_sys_coherent_alloc(struct device *dev, u32 size, u64 *bus);
void vchiq_sys_coherent_free(struct device *dev, u32 size, void *p, u64 bus);

#endif
