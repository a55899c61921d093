use super::{Link, LinkCounters, LinkKind, LinkRx, LinkTx, LINK_QUEUE_LEN};
use crossbeam_channel::bounded;
use std::sync::Arc;

pub(super) fn pair() -> (Link, Link) {
    pair_with_queue(LINK_QUEUE_LEN)
}

pub(super) fn pair_with_queue(len: usize) -> (Link, Link) {
    let (a_tx, b_rx) = bounded(len);
    let (b_tx, a_rx) = bounded(len);
    let end = |rx, tx| Link {
        kind: LinkKind::Pipe,
        rx: LinkRx::Queue(rx),
        tx: LinkTx::Channel(tx),
        counters: Arc::new(LinkCounters::default()),
        _reader: None,
    };
    (end(a_rx, a_tx), end(b_rx, b_tx))
}

#[cfg(test)]
mod tests {
    use super::super::Link;

    #[test]
    fn a_short_queue_drops_and_counts_past_its_length() {
        let (a, b) = Link::pipe_with_queue(2);
        assert!(a.send(&[1]).is_ok() && a.send(&[2]).is_ok());
        let e = a.send(&[3]).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOBUFS));
        assert_eq!(a.stats().tx_drop, 1);
        assert_eq!(b.try_recv().as_deref(), Some(&[1u8][..]));
        assert!(a.send(&[4]).is_ok(), "room again once one is taken");
        assert_eq!(
            Link::pipe_with_queue(0).0.send(&[0]).map_err(|_| ()),
            Ok(()),
            "at least 1"
        );
    }
}
