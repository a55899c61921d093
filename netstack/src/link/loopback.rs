use super::{Link, LinkCounters, LinkKind, LinkRx, LinkTx, LINK_QUEUE_LEN};
use crossbeam_channel::bounded;
use std::sync::Arc;

/// `lo`: what it sends, it receives. Counted once each way, as Linux's lo is.
pub(super) fn new() -> Link {
    let (tx, rx) = bounded(LINK_QUEUE_LEN);
    Link {
        kind: LinkKind::Loopback,
        rx: LinkRx::Queue(rx, None),
        tx: LinkTx::Channel(tx, None),
        counters: Arc::new(LinkCounters::default()),
        _reader: None,
    }
}
