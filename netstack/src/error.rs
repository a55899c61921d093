//! Errors carry Linux errno values, so that `raw_os_error()` and `kind()` mean
//! what they mean for the kernel's own sockets and netlink answers.

use std::io;

pub fn errno(code: i32) -> io::Error {
    io::Error::from_raw_os_error(code)
}
