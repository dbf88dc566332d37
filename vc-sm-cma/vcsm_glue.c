// SPDX-License-Identifier: GPL-2.0
/*
 * vc-sm-cma's dma-buf layer, the C half (sys.rs is the Rust half). The 7.3 Rust `kernel`
 * crate has no dma-buf abstraction, so this file is one: a buffer the VideoCore may use
 * (`struct vcsm_mem`), made either from the DMA API or from a foreign dma-buf, exported as a
 * dma-buf with a full set of exporter ops, and the kernel functions around it that are
 * macros or static inlines (the CPU-cache range operations of CLEAN_INVALID2 among them).
 *
 * Ownership: the Rust side owns a `struct vcsm_mem` (vcsm_mem_alloc/_import, freed with
 * vcsm_mem_free). The exported dma-buf points at it (priv); its release op hands the owner
 * pointer given to vcsm_mem_export back to Rust (vcsm_rs_dmabuf_release), which frees the
 * memory only once the VideoCore has let go too. So the memory outlives the dma-buf and
 * every op below runs on live memory.
 *
 * Own memory: coherent (dma_alloc_coherent, mapped uncached to user space) or cached
 * (dma_alloc_pages, mapped cached; begin/end_cpu_access do the cache maintenance for the
 * VideoCore's view and every attachment). Imported memory: the foreign dma-buf attached and
 * mapped for the VideoCore's device, required to be one DMA segment; the re-export shares
 * the original's reservation object and forwards every op to the original.
 */

#include <linux/dma-buf.h>
#include <linux/dma-direction.h>
#include <linux/dma-mapping.h>
#include <linux/err.h>
#include <linux/file.h>
#include <linux/iosys-map.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/auxiliary_bus.h>

MODULE_IMPORT_NS("DMA_BUF");

struct vcsm_mem;

/* Declared here for the Rust side (sys.rs). */
struct device *vcsm_dev_get(void *adev);
void vcsm_dev_put(struct device *dev);
struct vcsm_mem *vcsm_mem_alloc(struct device *dev, size_t size, bool cached);
struct vcsm_mem *vcsm_mem_import(struct device *dev, struct dma_buf *src);
struct vcsm_mem *vcsm_mem_import_fd(struct device *dev, int fd);
void vcsm_mem_free(struct vcsm_mem *m, bool leak);
u64 vcsm_mem_dma(const struct vcsm_mem *m);
size_t vcsm_mem_size(const struct vcsm_mem *m);
u64 vcsm_mem_phys(const struct vcsm_mem *m);
int vcsm_mem_attachment(struct vcsm_mem *m, unsigned int i, char *name, size_t len,
			bool *mapped, u64 *phys, u64 *dma);
struct dma_buf *vcsm_mem_export(struct vcsm_mem *m, void *owner);
void *vcsm_dmabuf_file(struct dma_buf *buf);
void vcsm_dmabuf_get(struct dma_buf *buf);
void vcsm_dmabuf_put(struct dma_buf *buf);
struct dma_buf *vcsm_dmabuf_from_fd(int fd);
int vcsm_sync_user(unsigned long addr, size_t len, u32 mode);

/* Implemented in Rust: the exported dma-buf of `owner` was released (sys.rs); kapi.rs. */
void vcsm_rs_dmabuf_release(void *owner);
int vcsm_rs_import_dmabuf(void *src, void **handle);
u32 vcsm_rs_vc_handle(void *owner);

struct vcsm_mem {
	struct device *dev;		/* the VideoCore's DMA device (referenced) */
	size_t size;
	dma_addr_t dma;			/* the address the VideoCore is given */
	bool cached;
	bool imported;
	void *vaddr;			/* own memory: kernel address */
	struct page *pages;		/* own cached memory */
	struct sg_table sgt;		/* own memory: one entry */
	/* imported memory */
	struct dma_buf *src;
	struct dma_buf_attachment *src_attach;
	struct sg_table *src_sgt;
	/* the export */
	struct dma_buf *dmabuf;		/* NULL until exported; not used after release */
	void *owner;
	struct mutex lock;		/* protects attachments */
	struct list_head attachments;
};

/* An importer's attachment to own memory: its copy of the table, mapped for its device. */
struct vcsm_attachment {
	struct list_head node;
	struct device *dev;
	struct sg_table sgt;
	enum dma_data_direction dir;	/* DMA_NONE while not mapped */
};

/* The auxiliary device comes as void * (see sys.rs). */
struct device *vcsm_dev_get(void *p)
{
	struct auxiliary_device *adev = p;

	return get_device(adev->dev.parent);
}

void vcsm_dev_put(struct device *dev)
{
	put_device(dev);
}

static struct vcsm_mem *vcsm_mem_new(struct device *dev, size_t size)
{
	struct vcsm_mem *m = kzalloc_obj(*m, GFP_KERNEL);

	if (!m)
		return NULL;
	m->dev = get_device(dev);
	m->size = size;
	mutex_init(&m->lock);
	INIT_LIST_HEAD(&m->attachments);
	return m;
}

static void vcsm_mem_del(struct vcsm_mem *m)
{
	mutex_destroy(&m->lock);
	put_device(m->dev);
	kfree(m);
}

struct vcsm_mem *vcsm_mem_alloc(struct device *dev, size_t size, bool cached)
{
	struct vcsm_mem *m;
	int ret;

	if (!size || size != PAGE_ALIGN(size))
		return ERR_PTR(-EINVAL);
	m = vcsm_mem_new(dev, size);
	if (!m)
		return ERR_PTR(-ENOMEM);
	m->cached = cached;
	if (cached) {
		m->pages = dma_alloc_pages(dev, size, &m->dma, DMA_BIDIRECTIONAL, GFP_KERNEL);
		m->vaddr = m->pages ? page_address(m->pages) : NULL;
	} else {
		m->vaddr = dma_alloc_coherent(dev, size, &m->dma, GFP_KERNEL);
	}
	if (!m->vaddr) {
		ret = -ENOMEM;
		goto err_del;
	}
	if (cached) {
		ret = sg_alloc_table(&m->sgt, 1, GFP_KERNEL);
		if (!ret)
			sg_set_page(m->sgt.sgl, m->pages, size, 0);
	} else {
		ret = dma_get_sgtable(dev, &m->sgt, m->vaddr, m->dma, size);
	}
	if (ret)
		goto err_free;
	return m;

err_free:
	if (cached)
		dma_free_pages(dev, size, m->pages, m->dma, DMA_BIDIRECTIONAL);
	else
		dma_free_coherent(dev, size, m->vaddr, m->dma);
err_del:
	vcsm_mem_del(m);
	return ERR_PTR(ret);
}

/* Takes a reference on `src` of its own; the caller keeps its own. */
struct vcsm_mem *vcsm_mem_import(struct device *dev, struct dma_buf *src)
{
	struct vcsm_mem *m;
	int ret;

	m = vcsm_mem_new(dev, src->size);
	if (!m)
		return ERR_PTR(-ENOMEM);
	m->imported = true;
	get_dma_buf(src);
	m->src = src;
	m->src_attach = dma_buf_attach(src, dev);
	if (IS_ERR(m->src_attach)) {
		ret = PTR_ERR(m->src_attach);
		goto err_put;
	}
	m->src_sgt = dma_buf_map_attachment_unlocked(m->src_attach, DMA_BIDIRECTIONAL);
	if (IS_ERR(m->src_sgt)) {
		ret = PTR_ERR(m->src_sgt);
		goto err_detach;
	}
	/* The VideoCore is given one address: the buffer must be one DMA segment. */
	if (m->src_sgt->nents != 1 || sg_dma_len(m->src_sgt->sgl) < src->size) {
		ret = -EINVAL;
		goto err_unmap;
	}
	m->dma = sg_dma_address(m->src_sgt->sgl);
	return m;

err_unmap:
	dma_buf_unmap_attachment_unlocked(m->src_attach, m->src_sgt, DMA_BIDIRECTIONAL);
err_detach:
	dma_buf_detach(src, m->src_attach);
err_put:
	dma_buf_put(src);
	vcsm_mem_del(m);
	return ERR_PTR(ret);
}

struct vcsm_mem *vcsm_mem_import_fd(struct device *dev, int fd)
{
	struct dma_buf *src = dma_buf_get(fd);
	struct vcsm_mem *m;

	if (IS_ERR(src))
		return ERR_CAST(src);
	m = vcsm_mem_import(dev, src);
	dma_buf_put(src);
	return m;
}

/*
 * Frees the memory. With `leak`, the DMA memory itself is kept (a DMA master may still
 * write it) and only the bookkeeping goes; an import keeps its mapping and the original.
 */
void vcsm_mem_free(struct vcsm_mem *m, bool leak)
{
	if (!leak && m->imported) {
		dma_buf_unmap_attachment_unlocked(m->src_attach, m->src_sgt, DMA_BIDIRECTIONAL);
		dma_buf_detach(m->src, m->src_attach);
		dma_buf_put(m->src);
	} else if (!leak) {
		sg_free_table(&m->sgt);
		if (m->cached)
			dma_free_pages(m->dev, m->size, m->pages, m->dma, DMA_BIDIRECTIONAL);
		else
			dma_free_coherent(m->dev, m->size, m->vaddr, m->dma);
	} else if (!m->imported) {
		sg_free_table(&m->sgt);
	}
	vcsm_mem_del(m);
}

u64 vcsm_mem_dma(const struct vcsm_mem *m)
{
	return m->dma;
}

size_t vcsm_mem_size(const struct vcsm_mem *m)
{
	return m->size;
}

/* Own memory: the physical address of its (first) page; 0 for imported memory. */
u64 vcsm_mem_phys(const struct vcsm_mem *m)
{
	return m->imported ? 0 : sg_phys(m->sgt.sgl);
}

/*
 * Attachment @i of own memory, for the state file: the importer's device name (into @name,
 * NUL-terminated), whether it is mapped, where its table points (the physical address of its
 * page) and, while mapped, its first segment's DMA address for the importer's device, so that
 * a test can see that the importer was given the very pages the VideoCore writes. -ENOENT
 * past the last one (imported memory has none: its importers attach to the original).
 */
int vcsm_mem_attachment(struct vcsm_mem *m, unsigned int i, char *name, size_t len,
			bool *mapped, u64 *phys, u64 *dma)
{
	struct vcsm_attachment *a;
	int ret = -ENOENT;

	mutex_lock(&m->lock);
	list_for_each_entry(a, &m->attachments, node) {
		if (i--)
			continue;
		strscpy(name, dev_name(a->dev), len);
		*mapped = a->dir != DMA_NONE;
		*phys = sg_phys(a->sgt.sgl);
		*dma = *mapped ? sg_dma_address(a->sgt.sgl) : 0;
		ret = 0;
		break;
	}
	mutex_unlock(&m->lock);
	return ret;
}

/* --- exporter ops of own memory ------------------------------------------------------ */

static int vcsm_attach(struct dma_buf *dmabuf, struct dma_buf_attachment *attach)
{
	struct vcsm_mem *m = dmabuf->priv;
	struct vcsm_attachment *a = kzalloc_obj(*a, GFP_KERNEL);
	int ret;

	if (!a)
		return -ENOMEM;
	ret = sg_alloc_table(&a->sgt, 1, GFP_KERNEL);
	if (ret) {
		kfree(a);
		return ret;
	}
	sg_set_page(a->sgt.sgl, sg_page(m->sgt.sgl), m->size, 0);
	a->dev = attach->dev;
	a->dir = DMA_NONE;
	attach->priv = a;
	mutex_lock(&m->lock);
	list_add(&a->node, &m->attachments);
	mutex_unlock(&m->lock);
	return 0;
}

static void vcsm_detach(struct dma_buf *dmabuf, struct dma_buf_attachment *attach)
{
	struct vcsm_mem *m = dmabuf->priv;
	struct vcsm_attachment *a = attach->priv;

	mutex_lock(&m->lock);
	list_del(&a->node);
	mutex_unlock(&m->lock);
	sg_free_table(&a->sgt);
	kfree(a);
}

/* Coherent memory is uncached: cache maintenance on its linear alias is skipped. */
static unsigned long vcsm_attrs(const struct vcsm_mem *m)
{
	return m->cached ? 0 : DMA_ATTR_SKIP_CPU_SYNC;
}

static struct sg_table *vcsm_map(struct dma_buf_attachment *attach,
				 enum dma_data_direction dir)
{
	struct vcsm_mem *m = attach->dmabuf->priv;
	struct vcsm_attachment *a = attach->priv;
	int ret;

	ret = dma_map_sgtable(a->dev, &a->sgt, dir, vcsm_attrs(m));
	if (ret)
		return ERR_PTR(ret);
	mutex_lock(&m->lock);
	a->dir = dir;
	mutex_unlock(&m->lock);
	return &a->sgt;
}

static void vcsm_unmap(struct dma_buf_attachment *attach, struct sg_table *sgt,
		       enum dma_data_direction dir)
{
	struct vcsm_mem *m = attach->dmabuf->priv;
	struct vcsm_attachment *a = attach->priv;

	mutex_lock(&m->lock);
	a->dir = DMA_NONE;
	mutex_unlock(&m->lock);
	dma_unmap_sgtable(a->dev, sgt, dir, vcsm_attrs(m));
}

static void vcsm_release(struct dma_buf *dmabuf)
{
	struct vcsm_mem *m = dmabuf->priv;

	vcsm_rs_dmabuf_release(m->owner);
}

/* Marks the user mappings of own memory, so that CLEAN_INVALID2 can find their memory. */
static const struct vm_operations_struct vcsm_vm_ops = {};

static int vcsm_mmap(struct dma_buf *dmabuf, struct vm_area_struct *vma)
{
	struct vcsm_mem *m = dmabuf->priv;
	int ret;

	if (m->cached)
		ret = dma_mmap_pages(m->dev, vma, m->size, m->pages);
	else
		ret = dma_mmap_coherent(m->dev, vma, m->vaddr, m->dma, m->size);
	if (!ret) {
		vma->vm_ops = &vcsm_vm_ops;
		vma->vm_private_data = m;
	}
	return ret;
}

/*
 * CLEAN_INVALID2's cache maintenance of [addr, addr + len) of the caller's mapping of own
 * memory: mode 1 invalidates, 2 cleans, 3 does both. Uncached memory needs none. The VMA
 * (whose file holds the dma-buf, which holds the memory) cannot go while mmap_lock is held.
 */
int vcsm_sync_user(unsigned long addr, size_t len, u32 mode)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	struct vcsm_mem *m;
	u64 off;
	int ret = 0;

	/*
	 * One CLEAN_INVALID2 may ask for 67 million ranges of up to 4 GiB each: every range
	 * gives way to other tasks and to a fatal signal (the caller is killable throughout).
	 */
	cond_resched();
	if (fatal_signal_pending(current))
		return -EINTR;
	if (!len)
		return 0;
	if (!mm)
		return -EINVAL;
	mmap_read_lock(mm);
	vma = vma_lookup(mm, addr);
	if (!vma || vma->vm_ops != &vcsm_vm_ops || len > vma->vm_end - addr) {
		ret = -EINVAL;
		goto out;
	}
	m = vma->vm_private_data;
	off = ((u64)vma->vm_pgoff << PAGE_SHIFT) + (addr - vma->vm_start);
	if (off + len > m->size) {
		ret = -EINVAL;
		goto out;
	}
	if (m->cached && (mode & 2))
		dma_sync_single_for_device(m->dev, m->dma + off, len, DMA_TO_DEVICE);
	if (m->cached && (mode & 1))
		dma_sync_single_for_cpu(m->dev, m->dma + off, len, DMA_FROM_DEVICE);
out:
	mmap_read_unlock(mm);
	return ret;
}

static int vcsm_vmap(struct dma_buf *dmabuf, struct iosys_map *map)
{
	struct vcsm_mem *m = dmabuf->priv;

	iosys_map_set_vaddr(map, m->vaddr);
	return 0;
}

/*
 * The CPU is about to access (begin) or has accessed (end) the buffer: the VideoCore's view
 * (cached memory only) and every mapped attachment are synchronised.
 */
static void vcsm_sync(struct vcsm_mem *m, enum dma_data_direction dir, bool for_cpu)
{
	struct vcsm_attachment *a;

	if (m->cached) {
		if (for_cpu)
			dma_sync_single_for_cpu(m->dev, m->dma, m->size, dir);
		else
			dma_sync_single_for_device(m->dev, m->dma, m->size, dir);
	}
	mutex_lock(&m->lock);
	list_for_each_entry(a, &m->attachments, node) {
		if (a->dir == DMA_NONE || !m->cached)
			continue;
		if (for_cpu)
			dma_sync_sgtable_for_cpu(a->dev, &a->sgt, a->dir);
		else
			dma_sync_sgtable_for_device(a->dev, &a->sgt, a->dir);
	}
	mutex_unlock(&m->lock);
}

static int vcsm_begin_cpu(struct dma_buf *dmabuf, enum dma_data_direction dir)
{
	vcsm_sync(dmabuf->priv, dir, true);
	return 0;
}

static int vcsm_end_cpu(struct dma_buf *dmabuf, enum dma_data_direction dir)
{
	vcsm_sync(dmabuf->priv, dir, false);
	return 0;
}

static const struct dma_buf_ops vcsm_own_ops = {
	.attach = vcsm_attach,
	.detach = vcsm_detach,
	.map_dma_buf = vcsm_map,
	.unmap_dma_buf = vcsm_unmap,
	.release = vcsm_release,
	.mmap = vcsm_mmap,
	.vmap = vcsm_vmap,
	.begin_cpu_access = vcsm_begin_cpu,
	.end_cpu_access = vcsm_end_cpu,
};

/* --- exporter ops of imported memory: forwarded to the original ---------------------- */

static int vcsm_fwd_attach(struct dma_buf *dmabuf, struct dma_buf_attachment *attach)
{
	struct vcsm_mem *m = dmabuf->priv;
	struct dma_buf_attachment *orig = dma_buf_attach(m->src, attach->dev);

	if (IS_ERR(orig))
		return PTR_ERR(orig);
	attach->priv = orig;
	return 0;
}

static void vcsm_fwd_detach(struct dma_buf *dmabuf, struct dma_buf_attachment *attach)
{
	struct vcsm_mem *m = dmabuf->priv;

	dma_buf_detach(m->src, attach->priv);
}

/* Called with the reservation lock held, which is the original's (shared). */
static struct sg_table *vcsm_fwd_map(struct dma_buf_attachment *attach,
				     enum dma_data_direction dir)
{
	return dma_buf_map_attachment(attach->priv, dir);
}

static void vcsm_fwd_unmap(struct dma_buf_attachment *attach, struct sg_table *sgt,
			   enum dma_data_direction dir)
{
	dma_buf_unmap_attachment(attach->priv, sgt, dir);
}

static int vcsm_fwd_mmap(struct dma_buf *dmabuf, struct vm_area_struct *vma)
{
	struct vcsm_mem *m = dmabuf->priv;

	return dma_buf_mmap(m->src, vma, vma->vm_pgoff);
}

static int vcsm_fwd_vmap(struct dma_buf *dmabuf, struct iosys_map *map)
{
	struct vcsm_mem *m = dmabuf->priv;

	return dma_buf_vmap(m->src, map);
}

static void vcsm_fwd_vunmap(struct dma_buf *dmabuf, struct iosys_map *map)
{
	struct vcsm_mem *m = dmabuf->priv;

	dma_buf_vunmap(m->src, map);
}

static int vcsm_fwd_begin_cpu(struct dma_buf *dmabuf, enum dma_data_direction dir)
{
	struct vcsm_mem *m = dmabuf->priv;

	return dma_buf_begin_cpu_access(m->src, dir);
}

static int vcsm_fwd_end_cpu(struct dma_buf *dmabuf, enum dma_data_direction dir)
{
	struct vcsm_mem *m = dmabuf->priv;

	return dma_buf_end_cpu_access(m->src, dir);
}

static const struct dma_buf_ops vcsm_fwd_ops = {
	.attach = vcsm_fwd_attach,
	.detach = vcsm_fwd_detach,
	.map_dma_buf = vcsm_fwd_map,
	.unmap_dma_buf = vcsm_fwd_unmap,
	.release = vcsm_release,
	.mmap = vcsm_fwd_mmap,
	.vmap = vcsm_fwd_vmap,
	.vunmap = vcsm_fwd_vunmap,
	.begin_cpu_access = vcsm_fwd_begin_cpu,
	.end_cpu_access = vcsm_fwd_end_cpu,
};

/*
 * Exports `m` once; the new dma-buf's one reference is the caller's (vcsm_dmabuf_put).
 * Its release op passes `owner` to vcsm_rs_dmabuf_release.
 */
struct dma_buf *vcsm_mem_export(struct vcsm_mem *m, void *owner)
{
	DEFINE_DMA_BUF_EXPORT_INFO(info);
	struct dma_buf *buf;

	if (m->dmabuf)
		return ERR_PTR(-EBUSY);
	info.exp_name = "vcsm-cma";
	info.owner = THIS_MODULE;
	info.ops = m->imported ? &vcsm_fwd_ops : &vcsm_own_ops;
	info.size = m->size;
	info.flags = O_RDWR;
	info.resv = m->imported ? m->src->resv : NULL;
	info.priv = m;
	m->owner = owner;
	buf = dma_buf_export(&info);
	if (!IS_ERR(buf))
		m->dmabuf = buf;
	return buf;
}

/* A new reference on the dma-buf's file (a struct file *, see sys.rs), for fd_install. */
void *vcsm_dmabuf_file(struct dma_buf *buf)
{
	return get_file(buf->file);
}

void vcsm_dmabuf_get(struct dma_buf *buf)
{
	get_dma_buf(buf);
}

void vcsm_dmabuf_put(struct dma_buf *buf)
{
	dma_buf_put(buf);
}

/* The dma-buf behind `fd`, referenced, or an ERR_PTR. */
struct dma_buf *vcsm_dmabuf_from_fd(int fd)
{
	return dma_buf_get(fd);
}

/* --- the kernel API of downstream's vc_sm_knl.h (kapi.rs) ---------------------------- */

int vc_sm_cma_import_dmabuf(struct dma_buf *src, void **handle);
int vc_sm_cma_int_handle(void *handle);
int vc_sm_cma_free(void *handle);

/* Imports `src` to the VideoCore; *handle is the re-exported dma-buf (a reference). */
int vc_sm_cma_import_dmabuf(struct dma_buf *src, void **handle)
{
	if (!src || !handle)
		return -EINVAL;
	return vcsm_rs_import_dmabuf(src, handle);
}
EXPORT_SYMBOL_GPL(vc_sm_cma_import_dmabuf);

/* The VideoCore's handle of a buffer from vc_sm_cma_import_dmabuf, 0 if none. */
int vc_sm_cma_int_handle(void *handle)
{
	struct dma_buf *buf = handle;

	if (!buf || (buf->ops != &vcsm_own_ops && buf->ops != &vcsm_fwd_ops))
		return 0;
	return vcsm_rs_vc_handle(((struct vcsm_mem *)buf->priv)->owner);
}
EXPORT_SYMBOL_GPL(vc_sm_cma_int_handle);

/* Drops the reference vc_sm_cma_import_dmabuf gave. */
int vc_sm_cma_free(void *handle)
{
	if (!handle)
		return -EINVAL;
	dma_buf_put(handle);
	return 0;
}
EXPORT_SYMBOL_GPL(vc_sm_cma_free);
