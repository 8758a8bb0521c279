//! `luasocket:socket/select` over [`net::select`].

use std::cell::Ref;
use std::time::Duration;

use super::Component;
use super::tcp::TcpResource;
use super::udp::UdpResource;
use crate::exports::luasocket::socket::select::{Guest, Ready, Socket};
use crate::net::select::{Selectable, select, select_confirmed};
use crate::net::tcp::Tcp;
use crate::net::timeout::Limit;
use crate::net::udp::Udp;

/// A socket of either kind, borrowed for the call.
enum Held<'a> {
    Tcp(Ref<'a, Tcp>),
    Udp(Ref<'a, Udp>),
}

impl Held<'_> {
    fn selectable(&self) -> &dyn Selectable {
        match self {
            Held::Tcp(t) => &**t,
            Held::Udp(u) => &**u,
        }
    }
}

fn hold<'a>(sockets: &'a [Socket<'a>]) -> Vec<Option<Held<'a>>> {
    sockets
        .iter()
        .map(|s| match s {
            // A socket already borrowed elsewhere cannot be waited on; it is skipped.
            Socket::Tcp(t) => t.get::<TcpResource>().0.try_borrow().ok().map(Held::Tcp),
            Socket::Udp(u) => u.get::<UdpResource>().0.try_borrow().ok().map(Held::Udp),
        })
        .collect()
}

/// Positions in the caller's list of the entries `select` saw as ready.
fn positions(held: &[Option<Held<'_>>], ready: Vec<usize>) -> Vec<usize> {
    let present: Vec<usize> = (0..held.len()).filter(|&i| held[i].is_some()).collect();
    ready.into_iter().map(|i| present[i]).collect()
}

impl Guest for Component {
    fn select(read: Vec<Socket<'_>>, write: Vec<Socket<'_>>, timeout: Option<f64>) -> Ready {
        let limit = Limit::from_secs(timeout).duration();
        // Each attempt borrows the sockets afresh; between attempts, readable ones are
        // confirmed (read ahead), which needs them mutably.
        let attempt = |remaining: Option<Duration>| {
            let (r, w) = (hold(&read), hold(&write));
            let rs: Vec<&dyn Selectable> = r.iter().flatten().map(Held::selectable).collect();
            let ws: Vec<&dyn Selectable> = w.iter().flatten().map(Held::selectable).collect();
            let (readable, writable) = select(&rs, &ws, remaining);
            (positions(&r, readable), positions(&w, writable))
        };
        let confirm = |i: usize| match &read[i] {
            Socket::Tcp(t) => t
                .get::<TcpResource>()
                .0
                .try_borrow_mut()
                .map_or(true, |mut tcp| tcp.confirm_readable()),
            Socket::Udp(_) => true,
        };
        let (readable, writable) = select_confirmed(limit, attempt, confirm);
        Ready {
            readable: readable.into_iter().map(|i| i as u32).collect(),
            writable: writable.into_iter().map(|i| i as u32).collect(),
        }
    }
}
