use super::{Link, LinkCounters, LinkKind, LinkRx, LinkTx, LINK_QUEUE_LEN};
use crossbeam_channel::bounded;
use std::sync::Arc;

pub(super) fn pair() -> (Link, Link) {
    let (a_tx, b_rx) = bounded(LINK_QUEUE_LEN);
    let (b_tx, a_rx) = bounded(LINK_QUEUE_LEN);
    let end = |rx, tx| Link {
        kind: LinkKind::Pipe,
        rx: LinkRx::Queue(rx),
        tx: LinkTx::Channel(tx),
        counters: Arc::new(LinkCounters::default()),
        _reader: None,
    };
    (end(a_rx, a_tx), end(b_rx, b_tx))
}
