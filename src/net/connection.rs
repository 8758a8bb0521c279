//! A connected TCP socket with its streams and pollables: the one place that knows how
//! wasi:io streams are read and written, and in which order the handles must be dropped.
//! `tcp.rs` keeps the socket's life cycle; `closing.rs` parks connections whose data is
//! still going out.

use wasip2::io::poll::Pollable;
use wasip2::io::streams::{InputStream, OutputStream, StreamError};
use wasip2::sockets::tcp::TcpSocket;

use super::buffer::Source;
use super::error::{NetError, NetResult};
use super::poll::{now_ns, wait};
use super::timeout::Deadline;

/// A connected socket with its streams. Fields drop in declaration order, which is the
/// order wasi requires: pollables, then streams, then the socket.
pub struct Connection {
    readable: Pollable,
    writable: Pollable,
    input: InputStream,
    output: OutputStream,
    socket: TcpSocket,
}

impl Connection {
    pub(super) fn new(socket: TcpSocket, input: InputStream, output: OutputStream) -> Connection {
        Connection {
            readable: input.subscribe(),
            writable: output.subscribe(),
            input,
            output,
            socket,
        }
    }

    /// The socket, for its addresses, options and shutdown.
    pub fn socket(&self) -> &TcpSocket {
        &self.socket
    }

    /// Ready when the input stream has data or has ended.
    pub fn readable(&self) -> &Pollable {
        &self.readable
    }

    /// Ready when the output stream accepts more.
    pub fn writable(&self) -> &Pollable {
        &self.writable
    }

    /// Whether the host has finished writing what was sent, so dropping will not block.
    pub fn is_drained(&self) -> bool {
        self.writable.ready()
    }

    /// Writes what the stream accepts of `data` now, without waiting; returns how much.
    pub fn write_now(&mut self, data: &[u8]) -> usize {
        match self.output.check_write() {
            Ok(permit) => {
                let n = usize::try_from(permit)
                    .unwrap_or(usize::MAX)
                    .min(data.len());
                if n > 0 && self.output.write(&data[..n]).is_ok() {
                    n
                } else {
                    0
                }
            }
            // A broken stream will take nothing more: give the tail up.
            Err(_) => data.len(),
        }
    }

    /// Writes as much of `data` as the deadline allows; returns how much was accepted, and
    /// on failure how far it got.
    pub(super) fn send(
        &mut self,
        data: &[u8],
        deadline: &Deadline,
    ) -> Result<usize, (NetError, usize)> {
        write_all(&self.output, &self.writable, data, deadline)
    }
}

/// Writes `data` to `output` as fast as it accepts it, waiting on `writable` (its
/// pollable) while it takes nothing, until the deadline. Returns how much was accepted,
/// and on failure how far it got. Any wasi output stream: a socket's, an HTTP body's.
pub fn write_all(
    output: &OutputStream,
    writable: &Pollable,
    data: &[u8],
    deadline: &Deadline,
) -> Result<usize, (NetError, usize)> {
    deadline.begin(now_ns);
    let mut sent = 0;
    while sent < data.len() {
        let permit = match output.check_write() {
            Ok(0) => {
                wait(writable, deadline).map_err(|e| (e, sent))?;
                continue;
            }
            Ok(n) => usize::try_from(n).unwrap_or(usize::MAX),
            Err(e) => return Err((e.into(), sent)),
        };
        let chunk = &data[sent..sent + permit.min(data.len() - sent)];
        output.write(chunk).map_err(|e| (e.into(), sent))?;
        sent += chunk.len();
    }
    Ok(sent)
}

impl Source for Connection {
    fn read_some(&mut self, out: &mut Vec<u8>, max: usize, deadline: &Deadline) -> NetResult<()> {
        // Room first, so that running out of memory loses no byte already read: a
        // script asking for a huge receive gets "not enough memory", not a trap.
        if !out.is_empty() {
            out.try_reserve(max).map_err(|_| NetError::OutOfMemory)?;
        }
        // Without a timeout the host may do the waiting: one blocking read replaces an
        // empty read, a wait and another read (three host calls) when data is not there yet.
        let unlimited = deadline.is_unlimited();
        deadline.begin(now_ns);
        loop {
            let got = if unlimited {
                self.input.blocking_read(max as u64)
            } else {
                self.input.read(max as u64)
            };
            match got {
                Ok(bytes) if bytes.is_empty() => wait(&self.readable, deadline)?,
                Ok(bytes) if out.is_empty() => {
                    *out = bytes;
                    return Ok(());
                }
                Ok(bytes) => {
                    out.extend_from_slice(&bytes);
                    return Ok(());
                }
                Err(StreamError::Closed) => return Err(NetError::Closed),
                Err(e) => return Err(e.into()),
            }
        }
    }
}
