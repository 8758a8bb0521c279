//! Connections that were closed while the host was still writing their data out.
//!
//! Dropping a wasi output stream waits for its background write to finish; with a peer
//! that never reads, that wait is unbounded. `close()` must return at once, so such a
//! connection is parked here and dropped once its stream has drained (checked whenever
//! sockets are created or closed). Whatever is still parked when the run ends is left to
//! the host, which reclaims it with the instance.

use std::cell::RefCell;

use super::connection::Connection;

/// A closed connection and the bytes it still owes the peer beyond what its stream has
/// accepted (a TLS layer's last records).
struct Parked {
    conn: Connection,
    tail: Vec<u8>,
}

impl Parked {
    /// Moves what the stream accepts now of the tail; true once everything is out.
    fn progress(&mut self) -> bool {
        if !self.tail.is_empty() {
            let n = self.conn.write_now(&self.tail);
            self.tail.drain(..n);
        }
        self.tail.is_empty() && self.conn.is_drained()
    }
}

thread_local! {
    static PARKED: RefCell<Vec<Parked>> = const { RefCell::new(Vec::new()) };
}

/// Closes `conn` once `tail` and everything before it have gone out: now, if they have.
pub fn release(conn: Connection, tail: Vec<u8>) {
    sweep();
    let mut parked = Parked { conn, tail };
    if !parked.progress() {
        PARKED.with(|p| p.borrow_mut().push(parked));
    }
}

/// Drops the parked connections whose data has gone out.
pub fn sweep() {
    let drained: Vec<Parked> =
        PARKED.with(|p| p.borrow_mut().extract_if(.., Parked::progress).collect());
    drop(drained);
}

/// How many connections are waiting to drain.
pub fn parked() -> usize {
    PARKED.with(|p| p.borrow().len())
}

/// Gives up on the parked connections without blocking: the host reclaims them when the
/// instance goes away. Called at the end of a run.
pub fn abandon() {
    let all = PARKED.with(|p| std::mem::take(&mut *p.borrow_mut()));
    all.into_iter().for_each(std::mem::forget);
}
