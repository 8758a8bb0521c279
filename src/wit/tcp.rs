//! `luasocket:socket/tcp`: [`Tcp`] as a WIT resource.

use std::cell::RefCell;

use super::{Component, checked_value, option};
use crate::exports::luasocket::socket::tcp::{
    Address, Class, ErrorCode, Family, Guest, GuestTcpSocket, OptionValue, Pattern, ReceiveError,
    SendError, ShutdownHow, Stats, TcpSocket, Timeouts,
};
use crate::net::addr::Family as NetFamily;
use crate::net::buffer::{Partial, Pattern as NetPattern};
use crate::net::options::Proto;
use crate::net::tcp::{Class as NetClass, Shutdown, Tcp};
use crate::net::timeout::Timeout;

/// The resource: the core object, borrowed per call.
pub struct TcpResource(pub RefCell<Tcp>);

impl Guest for Component {
    type TcpSocket = TcpResource;

    fn create(family: Option<Family>) -> Result<TcpSocket, ErrorCode> {
        let tcp = Tcp::new(family.map(NetFamily::from)).map_err(ErrorCode::from)?;
        Ok(TcpSocket::new(TcpResource(RefCell::new(tcp))))
    }
}

impl GuestTcpSocket for TcpResource {
    fn class(&self) -> Class {
        match self.0.borrow().class() {
            NetClass::Master => Class::Master,
            NetClass::Client => Class::Client,
            NetClass::Server => Class::Server,
        }
    }

    fn family(&self) -> Option<Family> {
        self.0.borrow().family().map(Family::from)
    }

    fn bind(&self, host: String, port: u16) -> Result<(), ErrorCode> {
        self.0
            .borrow_mut()
            .bind(&host, port)
            .map_err(ErrorCode::from)
    }

    fn listen(&self, backlog: u32) -> Result<(), ErrorCode> {
        self.0.borrow_mut().listen(backlog).map_err(ErrorCode::from)
    }

    fn connect(&self, host: String, port: u16) -> Result<(), ErrorCode> {
        let mut tcp = self.0.borrow_mut();
        let deadline = tcp.deadline();
        tcp.connect(&host, port, &deadline).map_err(ErrorCode::from)
    }

    fn accept(&self) -> Result<TcpSocket, ErrorCode> {
        let mut tcp = self.0.borrow_mut();
        let deadline = tcp.deadline();
        let client = tcp.accept(&deadline).map_err(ErrorCode::from)?;
        Ok(TcpSocket::new(TcpResource(RefCell::new(client))))
    }

    fn send(&self, data: Vec<u8>) -> Result<u64, SendError> {
        let mut tcp = self.0.borrow_mut();
        let deadline = tcp.deadline();
        tcp.send(&data, &deadline)
            .map(|n| n as u64)
            .map_err(|(e, sent)| SendError {
                code: ErrorCode::from(e),
                sent: sent as u64,
            })
    }

    fn receive(
        &self,
        pattern: Pattern,
        prefix: Vec<u8>,
        maxsize: Option<u64>,
    ) -> Result<Vec<u8>, ReceiveError> {
        let invalid = |partial| {
            Err(ReceiveError {
                code: ErrorCode::InvalidArgument,
                partial,
            })
        };
        let pattern = match pattern {
            Pattern::Line => NetPattern::Line,
            Pattern::All => NetPattern::All,
            Pattern::Bytes(n) => NetPattern::Bytes(usize::try_from(n).unwrap_or(usize::MAX)),
        };
        let cap = maxsize.map(|m| usize::try_from(m).unwrap_or(usize::MAX));
        // The same checks the Lua face raises for, before any I/O.
        if let Some(cap) = cap
            && pattern.check_cap(prefix.len(), cap).is_err()
        {
            return invalid(prefix);
        }
        let mut tcp = self.0.borrow_mut();
        let deadline = tcp.deadline();
        tcp.receive(pattern, prefix, cap, &deadline)
            .map_err(|Partial { error, data }| ReceiveError {
                code: ErrorCode::from(error),
                partial: data,
            })
    }

    fn set_timeouts(&self, t: Timeouts) {
        self.0.borrow_mut().timeout = Timeout::from(t);
    }

    fn get_timeouts(&self) -> Timeouts {
        Timeouts::from(&self.0.borrow().timeout)
    }

    fn shutdown(&self, how: ShutdownHow) -> Result<(), ErrorCode> {
        let how = match how {
            ShutdownHow::Receive => Shutdown::Receive,
            ShutdownHow::Send => Shutdown::Send,
            ShutdownHow::Both => Shutdown::Both,
        };
        self.0.borrow_mut().shutdown(how).map_err(ErrorCode::from)
    }

    fn local_address(&self) -> Result<Address, ErrorCode> {
        self.0
            .borrow_mut()
            .local_address()
            .map(Address::from)
            .map_err(ErrorCode::from)
    }

    fn remote_address(&self) -> Result<Address, ErrorCode> {
        self.0
            .borrow_mut()
            .remote_address()
            .map(Address::from)
            .map_err(ErrorCode::from)
    }

    fn set_option(&self, name: String, value: OptionValue) -> Result<(), ErrorCode> {
        let opt = option(&name, Proto::Tcp)?;
        let value = checked_value(opt, value)?;
        self.0
            .borrow_mut()
            .set_option(opt, value)
            .map_err(ErrorCode::from)
    }

    fn get_option(&self, name: String) -> Result<OptionValue, ErrorCode> {
        let opt = option(&name, Proto::Tcp)?;
        self.0
            .borrow()
            .get_option(opt)
            .map(OptionValue::from)
            .map_err(ErrorCode::from)
    }

    fn last_error(&self) -> Option<ErrorCode> {
        self.0.borrow_mut().take_error().map(ErrorCode::from)
    }

    fn dirty(&self) -> bool {
        self.0.borrow().dirty()
    }

    fn stats(&self) -> Stats {
        let s = self.0.borrow().stats();
        Stats {
            received: s.received as u64,
            sent: s.sent as u64,
            age: s.age_secs(),
        }
    }

    fn fd(&self) -> i64 {
        self.0.borrow().fd()
    }

    fn close(&self) {
        self.0.borrow_mut().close();
    }
}
