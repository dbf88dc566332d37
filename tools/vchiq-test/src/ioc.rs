//! The `/dev/vchiq` ioctl numbers (magic 0xC4), computed with the generic Linux `_IOC`
//! encoding from the native sizes of the argument structures: direction in bits 31..30
//! (1 = write, 2 = read), size in bits 29..16, type in bits 15..8, number in bits 7..0.
//! Compile-time assertions pin them to the table of vchiq-protocol.md §11.1 for 64-bit and
//! 32-bit targets.

use crate::abi::*;
use std::mem::size_of;

pub const IOC_NONE: u32 = 0;
pub const IOC_WRITE: u32 = 1;
pub const IOC_READ: u32 = 2;

/// `_IOC(dir, type, nr, size)`.
pub const fn ioc(dir: u32, ty: u32, nr: u32, size: usize) -> u32 {
    (dir << 30) | ((size as u32 & 0x3fff) << 16) | ((ty & 0xff) << 8) | (nr & 0xff)
}

/// The number field of a request.
pub const fn ioc_nr(req: u32) -> u32 {
    req & 0xff
}

/// The type (magic) field of a request.
pub const fn ioc_type(req: u32) -> u32 {
    (req >> 8) & 0xff
}

/// The size field of a request.
pub const fn ioc_size(req: u32) -> u32 {
    (req >> 16) & 0x3fff
}

/// The direction field of a request.
pub const fn ioc_dir(req: u32) -> u32 {
    req >> 30
}

pub const VCHIQ_IOC_MAGIC: u32 = 0xC4;

const fn io(nr: u32) -> u32 {
    ioc(IOC_NONE, VCHIQ_IOC_MAGIC, nr, 0)
}
const fn iow(nr: u32, size: usize) -> u32 {
    ioc(IOC_WRITE, VCHIQ_IOC_MAGIC, nr, size)
}
const fn iowr(nr: u32, size: usize) -> u32 {
    ioc(IOC_READ | IOC_WRITE, VCHIQ_IOC_MAGIC, nr, size)
}

pub const CONNECT: u32 = io(0);
pub const SHUTDOWN: u32 = io(1);
pub const CREATE_SERVICE: u32 = iowr(2, size_of::<CreateService>());
pub const REMOVE_SERVICE: u32 = io(3);
pub const QUEUE_MESSAGE: u32 = iow(4, size_of::<QueueMessage>());
pub const QUEUE_BULK_TRANSMIT: u32 = iowr(5, size_of::<QueueBulkTransfer>());
pub const QUEUE_BULK_RECEIVE: u32 = iowr(6, size_of::<QueueBulkTransfer>());
pub const AWAIT_COMPLETION: u32 = iowr(7, size_of::<AwaitCompletion>());
pub const DEQUEUE_MESSAGE: u32 = iowr(8, size_of::<DequeueMessage>());
pub const GET_CLIENT_ID: u32 = io(9);
pub const GET_CONFIG: u32 = iowr(10, size_of::<GetConfig>());
pub const CLOSE_SERVICE: u32 = io(11);
pub const USE_SERVICE: u32 = io(12);
pub const RELEASE_SERVICE: u32 = io(13);
pub const SET_SERVICE_OPTION: u32 = iow(14, size_of::<SetServiceOption>());
pub const DUMP_PHYS_MEM: u32 = iow(15, size_of::<DumpMem>());
pub const LIB_VERSION: u32 = io(16);
pub const CLOSE_DELIVERED: u32 = io(17);

/// `VCHIQ_IOC_MAX`.
pub const IOC_MAX: u32 = 17;

/// Every defined command with its name, in number order.
pub const ALL: [(u32, &str); 18] = [
    (CONNECT, "CONNECT"),
    (SHUTDOWN, "SHUTDOWN"),
    (CREATE_SERVICE, "CREATE_SERVICE"),
    (REMOVE_SERVICE, "REMOVE_SERVICE"),
    (QUEUE_MESSAGE, "QUEUE_MESSAGE"),
    (QUEUE_BULK_TRANSMIT, "QUEUE_BULK_TRANSMIT"),
    (QUEUE_BULK_RECEIVE, "QUEUE_BULK_RECEIVE"),
    (AWAIT_COMPLETION, "AWAIT_COMPLETION"),
    (DEQUEUE_MESSAGE, "DEQUEUE_MESSAGE"),
    (GET_CLIENT_ID, "GET_CLIENT_ID"),
    (GET_CONFIG, "GET_CONFIG"),
    (CLOSE_SERVICE, "CLOSE_SERVICE"),
    (USE_SERVICE, "USE_SERVICE"),
    (RELEASE_SERVICE, "RELEASE_SERVICE"),
    (SET_SERVICE_OPTION, "SET_SERVICE_OPTION"),
    (DUMP_PHYS_MEM, "DUMP_PHYS_MEM"),
    (LIB_VERSION, "LIB_VERSION"),
    (CLOSE_DELIVERED, "CLOSE_DELIVERED"),
];

/// The name of a defined command, if `req` is one (exactly, size included).
pub fn name(req: u32) -> Option<&'static str> {
    ALL.iter().find(|(r, _)| *r == req).map(|(_, n)| *n)
}

// The numbers of vchiq-protocol.md §11.1 that do not depend on the pointer size.
const _: () = {
    assert!(CONNECT == 0x0000_C400);
    assert!(SHUTDOWN == 0x0000_C401);
    assert!(REMOVE_SERVICE == 0x0000_C403);
    assert!(GET_CLIENT_ID == 0x0000_C409);
    assert!(CLOSE_SERVICE == 0x0000_C40B);
    assert!(USE_SERVICE == 0x0000_C40C);
    assert!(RELEASE_SERVICE == 0x0000_C40D);
    assert!(SET_SERVICE_OPTION == 0x400C_C40E);
    assert!(LIB_VERSION == 0x0000_C410);
    assert!(CLOSE_DELIVERED == 0x0000_C411);
};

#[cfg(target_pointer_width = "64")]
const _: () = {
    assert!(CREATE_SERVICE == 0xC030_C402);
    assert!(QUEUE_MESSAGE == 0x4010_C404);
    assert!(QUEUE_BULK_TRANSMIT == 0xC028_C405);
    assert!(QUEUE_BULK_RECEIVE == 0xC028_C406);
    assert!(AWAIT_COMPLETION == 0xC020_C407);
    assert!(DEQUEUE_MESSAGE == 0xC018_C408);
    assert!(GET_CONFIG == 0xC010_C40A);
    assert!(DUMP_PHYS_MEM == 0x4010_C40F);
};

#[cfg(target_pointer_width = "32")]
const _: () = {
    assert!(CREATE_SERVICE == 0xC01C_C402);
    assert!(QUEUE_MESSAGE == 0x400C_C404);
    assert!(QUEUE_BULK_TRANSMIT == 0xC014_C405);
    assert!(QUEUE_BULK_RECEIVE == 0xC014_C406);
    assert!(AWAIT_COMPLETION == 0xC014_C407);
    assert!(DEQUEUE_MESSAGE == 0xC010_C408);
    assert!(GET_CONFIG == 0xC008_C40A);
    assert!(DUMP_PHYS_MEM == 0x4008_C40F);
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_fields() {
        assert_eq!(ioc(IOC_READ | IOC_WRITE, 0xC4, 2, 48), 0xC030_C402);
        assert_eq!(ioc(IOC_WRITE, 0xC4, 4, 12), 0x400C_C404);
        assert_eq!(ioc(IOC_READ | IOC_WRITE, 0xC4, 10, 8), 0xC008_C40A);
        for (req, _) in ALL {
            assert_eq!(ioc_type(req), VCHIQ_IOC_MAGIC);
            assert_eq!(
                ioc(
                    ioc_dir(req),
                    ioc_type(req),
                    ioc_nr(req),
                    ioc_size(req) as usize
                ),
                req
            );
        }
        for (i, (req, _)) in ALL.iter().enumerate() {
            assert_eq!(ioc_nr(*req), i as u32);
        }
        assert_eq!(ioc_nr(CLOSE_DELIVERED), IOC_MAX);
    }

    #[test]
    fn names() {
        assert_eq!(name(0xC400), Some("CONNECT"));
        assert_eq!(name(AWAIT_COMPLETION), Some("AWAIT_COMPLETION"));
        assert_eq!(name(0xC412), None);
    }

    /// The 64-bit table also holds on a 64-bit host.
    #[cfg(target_pointer_width = "64")]
    #[test]
    fn table_64() {
        assert_eq!(AWAIT_COMPLETION, 0xC020_C407);
        assert_eq!(QUEUE_BULK_RECEIVE, 0xC028_C406);
    }

    /// The 32-bit table, computed from the 32-bit sizes of §11.2.
    #[test]
    fn table_32_from_sizes() {
        let rw = IOC_READ | IOC_WRITE;
        assert_eq!(ioc(rw, 0xC4, 2, 28), 0xC01C_C402);
        assert_eq!(ioc(IOC_WRITE, 0xC4, 4, 12), 0x400C_C404);
        assert_eq!(ioc(rw, 0xC4, 5, 20), 0xC014_C405);
        assert_eq!(ioc(rw, 0xC4, 6, 20), 0xC014_C406);
        assert_eq!(ioc(rw, 0xC4, 7, 20), 0xC014_C407);
        assert_eq!(ioc(rw, 0xC4, 8, 16), 0xC010_C408);
        assert_eq!(ioc(rw, 0xC4, 10, 8), 0xC008_C40A);
        assert_eq!(ioc(IOC_WRITE, 0xC4, 15, 8), 0x4008_C40F);
    }
}
