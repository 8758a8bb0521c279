//! Descriptor numbers. WASI has no file descriptors, but LuaSocket code uses `getfd` for
//! identity: `select` takes foreign objects by the number their `getfd` returns, and
//! schedulers key tables by it. Each socket gets a number unique within the instance.

use std::cell::Cell;

/// LuaSocket's `_SOCKETINVALID`: what `getfd` returns for a closed socket.
pub const INVALID: i64 = -1;

thread_local! {
    static NEXT: Cell<i64> = const { Cell::new(3) };
}

/// A fresh descriptor number (0-2 are left to stdio, as on a real system).
pub fn next() -> i64 {
    NEXT.with(|n| {
        let id = n.get();
        n.set(id + 1);
        id
    })
}
