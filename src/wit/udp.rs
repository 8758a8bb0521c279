//! `luasocket:socket/udp`: [`Udp`] as a WIT resource.

use std::cell::RefCell;
use std::net::SocketAddr;

use super::{Component, checked_value, option};
use crate::exports::luasocket::socket::udp::{
    Address, Class, Datagram, ErrorCode, Family, Guest, GuestUdpSocket, OptionValue, Timeouts,
    UdpSocket,
};
use crate::net::addr::Family as NetFamily;
use crate::net::addr::numeric_ip;
use crate::net::options::Proto;
use crate::net::timeout::Timeout;
use crate::net::udp::{Class as NetClass, DATAGRAM_SIZE, MAX_DATAGRAM, Udp};

pub struct UdpResource(pub RefCell<Udp>);

impl Guest for Component {
    type UdpSocket = UdpResource;

    fn create(family: Option<Family>) -> Result<UdpSocket, ErrorCode> {
        let udp = Udp::new(family.map(NetFamily::from)).map_err(ErrorCode::from)?;
        Ok(UdpSocket::new(UdpResource(RefCell::new(udp))))
    }
}

impl GuestUdpSocket for UdpResource {
    fn class(&self) -> Class {
        match self.0.borrow().class() {
            NetClass::Unconnected => Class::Unconnected,
            NetClass::Connected => Class::Connected,
        }
    }

    fn family(&self) -> Option<Family> {
        self.0.borrow().family().map(Family::from)
    }

    fn set_sockname(&self, host: String, port: u16) -> Result<(), ErrorCode> {
        self.0
            .borrow_mut()
            .bind(&host, port)
            .map_err(ErrorCode::from)
    }

    fn set_peername(&self, host: String, port: u16) -> Result<(), ErrorCode> {
        self.0
            .borrow_mut()
            .connect(&host, port)
            .map_err(ErrorCode::from)
    }

    fn send_to(&self, data: Vec<u8>, ip: String, port: u16) -> Result<u64, ErrorCode> {
        let mut udp = self.0.borrow_mut();
        let ip = numeric_ip(&ip, udp.family()).map_err(ErrorCode::from)?;
        let deadline = udp.deadline();
        udp.send_to(&data, SocketAddr::new(ip, port), &deadline)
            .map(|n| n as u64)
            .map_err(ErrorCode::from)
    }

    fn send(&self, data: Vec<u8>) -> Result<u64, ErrorCode> {
        let mut udp = self.0.borrow_mut();
        let deadline = udp.deadline();
        udp.send(&data, &deadline)
            .map(|n| n as u64)
            .map_err(ErrorCode::from)
    }

    fn receive(&self, size: Option<u32>) -> Result<Datagram, ErrorCode> {
        let size = size.map_or(DATAGRAM_SIZE, |s| (s as usize).min(MAX_DATAGRAM));
        let mut udp = self.0.borrow_mut();
        let deadline = udp.deadline();
        let d = udp.receive(size, &deadline).map_err(ErrorCode::from)?;
        Ok(Datagram {
            data: d.data,
            from: Address::from(d.from),
        })
    }

    fn set_timeouts(&self, t: Timeouts) {
        self.0.borrow_mut().timeout = Timeout::from(t);
    }

    fn get_timeouts(&self) -> Timeouts {
        Timeouts::from(&self.0.borrow().timeout)
    }

    fn local_address(&self) -> Result<Address, ErrorCode> {
        self.0
            .borrow()
            .local_address()
            .map(Address::from)
            .map_err(ErrorCode::from)
    }

    fn remote_address(&self) -> Result<Address, ErrorCode> {
        self.0
            .borrow()
            .remote_address()
            .map(Address::from)
            .map_err(ErrorCode::from)
    }

    fn set_option(&self, name: String, value: OptionValue) -> Result<(), ErrorCode> {
        let opt = option(&name, Proto::Udp)?;
        let value = checked_value(opt, value)?;
        self.0
            .borrow_mut()
            .set_option(opt, value)
            .map_err(ErrorCode::from)
    }

    fn get_option(&self, name: String) -> Result<OptionValue, ErrorCode> {
        let opt = option(&name, Proto::Udp)?;
        self.0
            .borrow()
            .get_option(opt)
            .map(OptionValue::from)
            .map_err(ErrorCode::from)
    }

    fn fd(&self) -> i64 {
        self.0.borrow().fd()
    }

    fn close(&self) {
        self.0.borrow_mut().close();
    }
}
