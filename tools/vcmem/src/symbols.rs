//! The firmware's debug header at load + 0x2800 and its symbol table, as libdebug_sym reads
//! them: header `{symbol table address, 'VCDH', param size}`, params `{vcMemBase, vcMemSize,
//! entry point, symbol table length}`, entries `{label address, address, size}` (the
//! VideoCore's 32-bit layout) ended by label 0, at most 1024, within 8 MiB of the load address.

use crate::mem::VcMem;
use std::io;

pub const HEADER_OFFSET: u32 = 0x2800;
pub const VCDH: u32 = u32::from_le_bytes(*b"VCDH");
const MAX_SYMBOLS: usize = 1024;
const TABLE_REACH: u32 = 8 << 20;

#[derive(Debug, Clone)]
pub struct Symbol {
    pub name: String,
    pub addr: u32,
    pub size: u32,
}

#[derive(Debug)]
pub struct Header {
    pub symtab: u32,
    pub mem_base: u32,
    pub mem_size: u32,
    pub entry: u32,
    pub table_len: u32,
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

pub fn header(m: &VcMem) -> io::Result<Header> {
    let at = m.load + HEADER_OFFSET;
    let mut b = [0u8; 28];
    m.read(at, &mut b)?;
    let w = |i: usize| u32::from_le_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]]);
    if w(1) != VCDH {
        return Err(bad(&format!(
            "no VCDH debug header at {at:#x} (found {:#x})",
            w(1)
        )));
    }
    if w(2) < 16 {
        return Err(bad("debug header parameters too short"));
    }
    Ok(Header {
        symtab: w(0),
        mem_base: w(3),
        mem_size: w(4),
        entry: w(5),
        table_len: w(6),
    })
}

/// Every symbol of the table, validated (addresses inside VideoCore memory).
pub fn symbols(m: &VcMem) -> io::Result<Vec<Symbol>> {
    let h = header(m)?;
    if h.symtab < m.load || h.symtab - m.load >= TABLE_REACH {
        return Err(bad("symbol table not within 8 MiB of the load address"));
    }
    let mut out = Vec::new();
    for i in 0..MAX_SYMBOLS as u32 {
        let mut e = [0u8; 12];
        m.read(h.symtab + 12 * i, &mut e)?;
        let w = |k: usize| u32::from_le_bytes([e[4 * k], e[4 * k + 1], e[4 * k + 2], e[4 * k + 3]]);
        if w(0) == 0 {
            return Ok(out);
        }
        out.push(Symbol {
            name: m.read_cstr(w(0))?,
            addr: w(1),
            size: w(2),
        });
    }
    Err(bad("symbol table without an end within 1024 entries"))
}

pub fn lookup(m: &VcMem, name: &str) -> io::Result<Symbol> {
    symbols(m)?
        .into_iter()
        .find(|s| s.name == name)
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no symbol {name}")))
}
