//! Connections that were closed while the host was still writing their data out.
//!
//! Dropping a wasi output stream waits for its background write to finish; with a peer
//! that never reads, that wait is unbounded. `close()` must return at once, so such a
//! connection is parked here and dropped once its stream has drained (checked whenever
//! sockets are created or closed). Whatever is still parked when the run ends is left to
//! the host, which reclaims it with the instance.

use std::cell::RefCell;

use super::tcp::Connection;

thread_local! {
    static PARKED: RefCell<Vec<Connection>> = const { RefCell::new(Vec::new()) };
}

/// Closes `conn`: now if nothing is left to write, otherwise once it has drained.
pub fn release(conn: Connection) {
    sweep();
    if conn.is_drained() {
        drop(conn);
    } else {
        PARKED.with(|p| p.borrow_mut().push(conn));
    }
}

/// Drops the parked connections whose data has gone out.
pub fn sweep() {
    let drained: Vec<Connection> = PARKED.with(|p| {
        let mut parked = p.borrow_mut();
        let (done, waiting) = parked.drain(..).partition(Connection::is_drained);
        *parked = waiting;
        done
    });
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
