//! Native peers on loopback, each on a thread of the test.

use std::net::UdpSocket;
use std::thread;

/// A native UDP peer bound to `bind` that answers each datagram (up to 70,000 bytes)
/// reversed, until "stop". Returns its port and its thread.
pub fn echo_peer(bind: &str) -> (u16, thread::JoinHandle<()>) {
    let peer = UdpSocket::bind(bind).unwrap();
    let port = peer.local_addr().unwrap().port();
    let handle = thread::spawn(move || {
        let mut buf = [0u8; 70000];
        loop {
            let (n, from) = peer.recv_from(&mut buf).unwrap();
            if &buf[..n] == b"stop" {
                return;
            }
            let mut reply = buf[..n].to_vec();
            reply.reverse();
            peer.send_to(&reply, from).unwrap();
        }
    });
    (port, handle)
}
