//! Requests that change the stack. Not answered yet: EOPNOTSUPP, as the
//! kernel answers a request type it has no handler for.

use crate::error::Failure;
use crate::nlmsg::Message;
use netstack::Stack;

pub fn apply(_stack: &Stack, _m: &Message<'_>, _family: u8, _strict: bool) -> Result<(), Failure> {
    Err(Failure::new(libc::EOPNOTSUPP))
}
