//! Bulk data for transfer tests: a reproducible stream and a checksum of it.

use std::io::{self, Read, Write};

/// FNV-1a over a byte stream, fed in pieces.
#[derive(Clone, Copy)]
pub struct Digest(u64);

impl Default for Digest {
    fn default() -> Self {
        Digest(0xcbf2_9ce4_8422_2325)
    }
}

impl Digest {
    pub fn update(&mut self, data: &[u8]) {
        for &b in data {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x100_0000_01b3);
        }
    }

    pub fn value(&self) -> u64 {
        self.0
    }
}

/// `len` bytes of a xorshift stream seeded with `seed`, written in chunks;
/// returns the digest of what was written.
pub fn send_stream(mut w: impl Write, seed: u64, len: usize) -> io::Result<u64> {
    let mut x = seed | 1;
    let mut digest = Digest::default();
    let mut buf = vec![0u8; 64 * 1024];
    let mut left = len;
    while left > 0 {
        let n = left.min(buf.len());
        for chunk in buf[..n].chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
        }
        w.write_all(&buf[..n])?;
        digest.update(&buf[..n]);
        left -= n;
    }
    Ok(digest.value())
}

/// Reads to end of stream; returns (bytes, digest).
pub fn recv_stream(mut r: impl Read) -> io::Result<(usize, u64)> {
    let mut digest = Digest::default();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0;
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            return Ok((total, digest.value()));
        }
        digest.update(&buf[..n]);
        total += n;
    }
}
