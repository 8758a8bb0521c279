//! `select` over any sockets: one `wasi:io/poll` call over their pollables, with no limit
//! of its own beyond the number of entries the caller allows (`_SETSIZE`).

use std::time::Duration;

use wasip2::io::poll::Pollable;

use super::poll::{now_ns, wait_any};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interest {
    Read,
    Write,
}

/// A socket `select` can wait on.
pub trait Selectable {
    /// Ready without waiting (data already buffered, an error to report).
    fn ready_now(&self, interest: Interest) -> bool;
    /// What becomes ready with the socket; `None`: never (closed, or nothing to wait for).
    fn pollable(&self, interest: Interest) -> Option<&Pollable>;
}

/// The entries of `read` and `write` that are ready, by position. Entries ready at once
/// (buffered data) make the call return without waiting, along with whatever else is
/// ready at that moment. `limit` None waits without limit.
pub fn select(
    read: &[&dyn Selectable],
    write: &[&dyn Selectable],
    limit: Option<Duration>,
) -> (Vec<usize>, Vec<usize>) {
    let now: Vec<usize> = (0..read.len())
        .filter(|&i| read[i].ready_now(Interest::Read))
        .collect();
    let write_now: Vec<usize> = (0..write.len())
        .filter(|&i| write[i].ready_now(Interest::Write))
        .collect();
    let limit = if now.is_empty() && write_now.is_empty() {
        limit
    } else {
        Some(Duration::ZERO)
    };
    let mut pollables = Vec::with_capacity(read.len() + write.len());
    let mut owners = Vec::with_capacity(read.len() + write.len());
    for (side, list, interest) in [(0, read, Interest::Read), (1, write, Interest::Write)] {
        for (i, s) in list.iter().enumerate() {
            if let Some(p) = s.pollable(interest) {
                pollables.push(p);
                owners.push((side, i));
            }
        }
    }
    if pollables.is_empty() {
        // Nothing to wait for: a sleep, as LuaSocket's select(nil, nil, t) (forever if
        // no timeout: what the script asked for; the host's limits still apply).
        super::poll::sleep(limit.unwrap_or(Duration::MAX));
        return (now, write_now);
    }
    let mut is_readable = vec![false; read.len()];
    now.iter().for_each(|&i| is_readable[i] = true);
    let mut is_writable = vec![false; write.len()];
    write_now.iter().for_each(|&i| is_writable[i] = true);
    for index in wait_any(&pollables, limit) {
        match owners[index as usize] {
            (0, i) => is_readable[i] = true,
            (_, i) => is_writable[i] = true,
        }
    }
    let readable = (0..read.len()).filter(|&i| is_readable[i]).collect();
    let writable = (0..write.len()).filter(|&i| is_writable[i]).collect();
    (readable, writable)
}

/// `select` as scripts expect it: what it calls readable really has something to read.
/// wasi pollables can be ready with nothing behind them (a stream whose last bytes were
/// just taken), so each readable entry goes through `confirm`, which may read ahead into
/// the socket's buffer; if nothing is left, the wait goes on with the time that remains.
/// `attempt` runs one `select` over the sockets with the time it is given.
pub fn select_confirmed(
    limit: Option<Duration>,
    mut attempt: impl FnMut(Option<Duration>) -> (Vec<usize>, Vec<usize>),
    mut confirm: impl FnMut(usize) -> bool,
) -> (Vec<usize>, Vec<usize>) {
    let start = now_ns();
    loop {
        let elapsed = Duration::from_nanos(now_ns().saturating_sub(start));
        let remaining = limit.map(|l| l.saturating_sub(elapsed));
        let (readable, writable) = attempt(remaining);
        let readable: Vec<usize> = readable.into_iter().filter(|&i| confirm(i)).collect();
        let out_of_time = remaining.is_some_and(|r| r.is_zero());
        if !readable.is_empty() || !writable.is_empty() || out_of_time {
            return (readable, writable);
        }
    }
}
