//! The DRM side of the zero-copy tests, through the `drm` crate: a card found by its driver's
//! name (VKMS, VGEM), VKMS's display pipe (CRTC, primary plane, virtual and writeback
//! connectors) with the property handles an atomic commit needs, and a foreign dma-buf
//! imported as a framebuffer.

use drm::buffer::{self, DrmFourcc, DrmModifier, PlanarBuffer};
use drm::control::{
    atomic::AtomicModeReq, connector, crtc, framebuffer, plane, property, AtomicCommitFlags,
    Device as _, FbCmd2Flags, Mode,
};
use drm::ClientCapability;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Error, Result};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// An open DRM card.
pub struct Card(File);

impl AsFd for Card {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl drm::Device for Card {}
impl drm::control::Device for Card {}

impl Card {
    /// The first `/dev/dri/card*` whose driver is `driver`.
    pub fn open(driver: &str) -> Result<Card> {
        for i in 0..16 {
            let path = format!("/dev/dri/card{i}");
            let Ok(f) = OpenOptions::new().read(true).write(true).open(&path) else {
                continue;
            };
            let card = Card(f);
            if drm::Device::get_driver(&card).is_ok_and(|d| d.name() == driver) {
                return Ok(card);
            }
        }
        Err(Error::other(format!("no DRM card with driver {driver}")))
    }

    /// The atomic API with universal planes and writeback connectors (in that order: the
    /// writeback capability needs the atomic one).
    pub fn enable_writeback(&self) -> Result<()> {
        use drm::Device as _;
        self.set_client_capability(ClientCapability::UniversalPlanes, true)?;
        self.set_client_capability(ClientCapability::Atomic, true)?;
        self.set_client_capability(ClientCapability::WritebackConnectors, true)
    }

    /// The property handles of `obj` by name.
    fn props<H: drm::control::ResourceHandle>(
        &self,
        obj: H,
    ) -> Result<HashMap<String, property::Handle>> {
        let set = self.get_properties(obj)?;
        Ok(set
            .as_hashmap(self)?
            .into_iter()
            .map(|(n, info)| (n, info.handle()))
            .collect())
    }
}

/// The properties of one object that a commit sets.
pub struct Props(HashMap<String, property::Handle>);

impl Props {
    fn get(&self, name: &str) -> Result<property::Handle> {
        self.0
            .get(name)
            .copied()
            .ok_or_else(|| Error::other(format!("no property {name}")))
    }
}

/// VKMS's display pipe.
pub struct Pipe {
    pub crtc: crtc::Handle,
    pub plane: plane::Handle,
    pub conn: connector::Handle,
    pub wb: connector::Handle,
    /// The smallest mode the virtual connector offers.
    pub mode: Mode,
    crtc_props: Props,
    plane_props: Props,
    conn_props: Props,
    wb_props: Props,
}

/// `DRM_PLANE_TYPE_PRIMARY`, the value of a plane's `type` property.
const PLANE_PRIMARY: u64 = 1;

impl Pipe {
    /// The first CRTC, its primary plane, the virtual and the writeback connector.
    pub fn find(card: &Card) -> Result<Pipe> {
        let res = card.resource_handles()?;
        let crtc = *res.crtcs().first().ok_or_else(|| Error::other("no CRTC"))?;
        let plane = primary_plane(card, &res, crtc)?;
        let mut conn = None;
        let mut wb = None;
        for &c in res.connectors() {
            let info = card.get_connector(c, true)?;
            match info.interface() {
                connector::Interface::Virtual => conn = conn.or(Some(info)),
                connector::Interface::Writeback => wb = wb.or(Some(c)),
                _ => {}
            }
        }
        let conn = conn.ok_or_else(|| Error::other("no virtual connector"))?;
        let wb = wb.ok_or_else(|| Error::other("no writeback connector"))?;
        let mode = *conn
            .modes()
            .iter()
            .min_by_key(|m| u32::from(m.size().0) * u32::from(m.size().1))
            .ok_or_else(|| Error::other("the virtual connector has no mode"))?;
        Ok(Pipe {
            crtc,
            plane,
            conn: conn.handle(),
            wb,
            mode,
            crtc_props: Props(card.props(crtc)?),
            plane_props: Props(card.props(plane)?),
            conn_props: Props(card.props(conn.handle())?),
            wb_props: Props(card.props(wb)?),
        })
    }

    pub fn size(&self) -> (u32, u32) {
        let (w, h) = self.mode.size();
        (u32::from(w), u32::from(h))
    }

    /// Shows `fb` (mode-sized) on the primary plane and writes the composed frame back into
    /// `out`; returns the writeback's out-fence.
    pub fn show(
        &self,
        card: &Card,
        fb: framebuffer::Handle,
        out: framebuffer::Handle,
    ) -> Result<OwnedFd> {
        use property::Value as V;
        let (w, h) = self.size();
        let blob = card.create_property_blob(&self.mode)?;
        let mut fence: i32 = -1;
        let mut req = AtomicModeReq::new();
        req.add_property(self.crtc, self.crtc_props.get("MODE_ID")?, blob);
        req.add_property(self.crtc, self.crtc_props.get("ACTIVE")?, V::Boolean(true));
        let p = &self.plane_props;
        req.add_property(self.plane, p.get("FB_ID")?, V::Framebuffer(Some(fb)));
        req.add_property(self.plane, p.get("CRTC_ID")?, V::CRTC(Some(self.crtc)));
        for (name, v) in [
            ("SRC_X", 0),
            ("SRC_Y", 0),
            ("SRC_W", w << 16),
            ("SRC_H", h << 16),
        ] {
            req.add_property(self.plane, p.get(name)?, V::UnsignedRange(v.into()));
        }
        for (name, v) in [("CRTC_X", 0), ("CRTC_Y", 0), ("CRTC_W", w), ("CRTC_H", h)] {
            req.add_property(self.plane, p.get(name)?, V::UnsignedRange(v.into()));
        }
        let crtc = V::CRTC(Some(self.crtc));
        req.add_property(self.conn, self.conn_props.get("CRTC_ID")?, crtc);
        req.add_property(self.wb, self.wb_props.get("CRTC_ID")?, crtc);
        let wb_fb = self.wb_props.get("WRITEBACK_FB_ID")?;
        req.add_property(self.wb, wb_fb, V::Framebuffer(Some(out)));
        // The kernel writes the fence's fd (an s32) here during the commit.
        let ptr = std::ptr::addr_of_mut!(fence) as u64;
        let fence_ptr = self.wb_props.get("WRITEBACK_OUT_FENCE_PTR")?;
        req.add_property(self.wb, fence_ptr, V::UnsignedRange(ptr));
        card.atomic_commit(AtomicCommitFlags::ALLOW_MODESET, req)?;
        let _ = card.destroy_property_blob(blob.into());
        // SAFETY: a live local; volatile because the kernel wrote it behind the compiler's back.
        let fence = unsafe { std::ptr::addr_of!(fence).read_volatile() };
        if fence < 0 {
            return Err(Error::other("no writeback fence"));
        }
        // SAFETY: the commit installed a new fd (the sync_file) for us at `fence`.
        Ok(unsafe { std::os::fd::FromRawFd::from_raw_fd(fence) })
    }

    /// Turns the pipe off: no plane, no connectors, no mode.
    pub fn off(&self, card: &Card) -> Result<()> {
        use property::Value as V;
        let mut req = AtomicModeReq::new();
        req.add_property(self.crtc, self.crtc_props.get("ACTIVE")?, V::Boolean(false));
        req.add_property(self.crtc, self.crtc_props.get("MODE_ID")?, V::Blob(0));
        let p = &self.plane_props;
        req.add_property(self.plane, p.get("FB_ID")?, V::Framebuffer(None));
        req.add_property(self.plane, p.get("CRTC_ID")?, V::CRTC(None));
        req.add_property(self.conn, self.conn_props.get("CRTC_ID")?, V::CRTC(None));
        req.add_property(self.wb, self.wb_props.get("CRTC_ID")?, V::CRTC(None));
        card.atomic_commit(AtomicCommitFlags::ALLOW_MODESET, req)
    }
}

/// The primary plane that can be on `crtc`.
fn primary_plane(
    card: &Card,
    res: &drm::control::ResourceHandles,
    crtc: crtc::Handle,
) -> Result<plane::Handle> {
    for p in card.plane_handles()? {
        let info = card.get_plane(p)?;
        if !res.filter_crtcs(info.possible_crtcs()).contains(&crtc) {
            continue;
        }
        let ty = card.props(p)?.get("type").copied();
        let set = card.get_properties(p)?;
        let primary = set
            .iter()
            .any(|(h, v)| Some(*h) == ty && *v == PLANE_PRIMARY);
        if primary {
            return Ok(p);
        }
    }
    Err(Error::other("no primary plane"))
}

/// A single-plane XRGB8888 buffer of `size` pixels, `pitch` bytes a line: a GEM handle (a
/// PRIME import) as AddFB2 wants it.
pub struct Xrgb {
    pub handle: buffer::Handle,
    pub size: (u32, u32),
    pub pitch: u32,
}

impl PlanarBuffer for Xrgb {
    fn size(&self) -> (u32, u32) {
        self.size
    }
    fn format(&self) -> DrmFourcc {
        DrmFourcc::Xrgb8888
    }
    fn modifier(&self) -> Option<DrmModifier> {
        None
    }
    fn pitches(&self) -> [u32; 4] {
        [self.pitch, 0, 0, 0]
    }
    fn handles(&self) -> [Option<buffer::Handle>; 4] {
        [Some(self.handle), None, None, None]
    }
    fn offsets(&self) -> [u32; 4] {
        [0; 4]
    }
}

/// The dma-buf `fd` imported (PRIME) as a `size` XRGB8888 framebuffer.
pub fn import_fb(
    card: &Card,
    fd: BorrowedFd<'_>,
    size: (u32, u32),
) -> Result<(buffer::Handle, framebuffer::Handle)> {
    let handle = card.prime_fd_to_buffer(fd)?;
    let b = Xrgb {
        handle,
        size,
        pitch: size.0 * 4,
    };
    let fb = card.add_planar_framebuffer(&b, FbCmd2Flags::empty())?;
    Ok((handle, fb))
}
