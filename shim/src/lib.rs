//! The shim component (world `shim`, wit/shim.wit): the interfaces the `handler` world
//! imports beyond `wasi:http/proxy`, as a sandbox that grants nothing. Composed with the
//! handler component, its exports fill the handler's imports of the same names, so the
//! composition runs on a host that provides only `wasi:http/proxy` (`wasmtime serve`).
//!
//! What an app sees through it: an empty environment, no arguments, no working directory;
//! no terminals; no preopened directories; a network on which creating a socket and
//! resolving a name are denied (`access-denied`, as a host answers that grants no network).
//! `insecure-seed` is drawn from the imported `wasi:random/random`.
//!
//! Resources: only `network` is ever made (by `instance-network`). Every other resource
//! (descriptors, directory streams, sockets, datagram streams, name-lookup streams,
//! terminals) is made by nothing here, so its Rust type is [`Never`], which has no values:
//! a method on one cannot be called, since the component model refuses a handle this
//! component did not create, and the compiler checks that no code makes one
//! (`match *self {}`). Nothing is made up for them: no error code, no trap.

// `deny`, not `forbid`: the bindings, and the glue `export!` makes, are wit-bindgen's
// `unsafe` code (the canonical ABI's lifting and lowering), allowed in their module only.
// None is written by hand.
#![deny(unsafe_code)]
// No std: its runtime on wasm32-wasip2 (wasi-libc) imports wasi:cli/environment, exit,
// stdio and terminals of its own (@0.2.6), which a proxy-only host does not have.
#![no_std]

extern crate alloc;

use alloc::{string::String, vec::Vec};

#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

/// `cabi_realloc`, which the canonical ABI calls to allocate room for the lists and
/// strings passed in. On wasm32-wasip2, wit-bindgen leaves it to wasi-libc, which a
/// `no_std` build does not link; this is wit-bindgen's own (rt::cabi_realloc, for the
/// other wasm targets), over the global allocator.
#[allow(unsafe_code)]
mod cabi {
    use alloc::alloc::{Layout, alloc, realloc};

    #[unsafe(no_mangle)]
    unsafe extern "C" fn cabi_realloc(
        old_ptr: *mut u8,
        old_len: usize,
        align: usize,
        new_len: usize,
    ) -> *mut u8 {
        if old_len == 0 && new_len == 0 {
            // A zero-sized allocation: any non-null, aligned address.
            return align as *mut u8;
        }
        if new_len == 0 {
            // Freeing, which the canonical ABI never asks for (nor `realloc` allows).
            core::arch::wasm32::unreachable()
        }
        let size = if old_len == 0 { new_len } else { old_len };
        let Ok(layout) = Layout::from_size_align(size, align) else {
            core::arch::wasm32::unreachable()
        };
        // SAFETY: `layout` and `new_len` are not 0; when `old_len` is not 0, the
        // canonical ABI passes back a pointer this function returned, with the length
        // and alignment it was allocated with.
        let ptr = unsafe {
            if old_len == 0 {
                alloc(layout)
            } else {
                realloc(old_ptr, layout, new_len)
            }
        };
        if ptr.is_null() {
            // Out of memory: the instance ends, as it would in wasi-libc's.
            core::arch::wasm32::unreachable()
        }
        ptr
    }
}

/// A panic (none is expected: nothing here indexes, unwraps or overflows) ends the
/// instance with a trap, without a message: printing one would need wasi:cli/stderr.
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}

// The bindings, and the glue `export!` makes: wit-bindgen's `unsafe` code.
#[allow(unsafe_code)]
mod bindings {
    wit_bindgen::generate!({ path: "../wit", world: "shim", generate_all });

    use super::Shim;
    export!(Shim);
}

use bindings::exports::wasi::{cli, filesystem, random, sockets};
use bindings::wasi::random::random::get_random_u64;

/// The implementation of every interface of the world.
struct Shim;

/// The type of every resource this component never makes: it has no values, so none of
/// its methods can run.
enum Never {}

/// The one resource made here: the network `instance-network` returns, on which every
/// socket and lookup is denied. It has no methods.
struct Network;

/// Implements methods on [`Never`]: each takes `&self` and the listed argument types,
/// returns the listed type, and has no body to run (`match *self {}`: no `self` exists).
macro_rules! never {
    ($($method:ident($($arg:ty),*) -> $ret:ty;)*) => {
        $(fn $method(&self, $(_: $arg),*) -> $ret { match *self {} })*
    };
}

// wasi:cli: no environment, no arguments, no working directory, no terminals.

impl cli::environment::Guest for Shim {
    fn get_environment() -> Vec<(String, String)> {
        Vec::new()
    }
    fn get_arguments() -> Vec<String> {
        Vec::new()
    }
    fn initial_cwd() -> Option<String> {
        None
    }
}

// There is no process to exit: the instance ends, with a trap, as exit would end a
// process (a request not answered yet gets the host's error response).
impl cli::exit::Guest for Shim {
    fn exit(_: Result<(), ()>) {
        core::arch::wasm32::unreachable()
    }
    fn exit_with_code(_: u8) {
        core::arch::wasm32::unreachable()
    }
}

impl cli::terminal_input::Guest for Shim {
    type TerminalInput = Never;
}
impl cli::terminal_input::GuestTerminalInput for Never {}

impl cli::terminal_output::Guest for Shim {
    type TerminalOutput = Never;
}
impl cli::terminal_output::GuestTerminalOutput for Never {}

impl cli::terminal_stdin::Guest for Shim {
    fn get_terminal_stdin() -> Option<cli::terminal_stdin::TerminalInput> {
        None
    }
}

impl cli::terminal_stdout::Guest for Shim {
    fn get_terminal_stdout() -> Option<cli::terminal_stdout::TerminalOutput> {
        None
    }
}

impl cli::terminal_stderr::Guest for Shim {
    fn get_terminal_stderr() -> Option<cli::terminal_stderr::TerminalOutput> {
        None
    }
}

// wasi:filesystem: no preopens, so no descriptor ever exists.

impl filesystem::preopens::Guest for Shim {
    fn get_directories() -> Vec<(filesystem::preopens::Descriptor, String)> {
        Vec::new()
    }
}

use bindings::exports::wasi::filesystem::types as fs;

impl fs::Guest for Shim {
    type Descriptor = Never;
    type DirectoryEntryStream = Never;

    /// No error is a filesystem's: with no descriptors there are no file streams to fail.
    fn filesystem_error_code(_: &fs::Error) -> Option<fs::ErrorCode> {
        None
    }
}

impl fs::GuestDescriptor for Never {
    never! {
        read_via_stream(fs::Filesize) -> Result<fs::InputStream, fs::ErrorCode>;
        write_via_stream(fs::Filesize) -> Result<fs::OutputStream, fs::ErrorCode>;
        append_via_stream() -> Result<fs::OutputStream, fs::ErrorCode>;
        advise(fs::Filesize, fs::Filesize, fs::Advice) -> Result<(), fs::ErrorCode>;
        sync_data() -> Result<(), fs::ErrorCode>;
        get_flags() -> Result<fs::DescriptorFlags, fs::ErrorCode>;
        get_type() -> Result<fs::DescriptorType, fs::ErrorCode>;
        set_size(fs::Filesize) -> Result<(), fs::ErrorCode>;
        set_times(fs::NewTimestamp, fs::NewTimestamp) -> Result<(), fs::ErrorCode>;
        read(fs::Filesize, fs::Filesize) -> Result<(Vec<u8>, bool), fs::ErrorCode>;
        write(Vec<u8>, fs::Filesize) -> Result<fs::Filesize, fs::ErrorCode>;
        read_directory() -> Result<fs::DirectoryEntryStream, fs::ErrorCode>;
        sync() -> Result<(), fs::ErrorCode>;
        create_directory_at(String) -> Result<(), fs::ErrorCode>;
        stat() -> Result<fs::DescriptorStat, fs::ErrorCode>;
        stat_at(fs::PathFlags, String) -> Result<fs::DescriptorStat, fs::ErrorCode>;
        set_times_at(fs::PathFlags, String, fs::NewTimestamp, fs::NewTimestamp)
            -> Result<(), fs::ErrorCode>;
        link_at(fs::PathFlags, String, fs::DescriptorBorrow<'_>, String)
            -> Result<(), fs::ErrorCode>;
        open_at(fs::PathFlags, String, fs::OpenFlags, fs::DescriptorFlags)
            -> Result<fs::Descriptor, fs::ErrorCode>;
        readlink_at(String) -> Result<String, fs::ErrorCode>;
        remove_directory_at(String) -> Result<(), fs::ErrorCode>;
        rename_at(String, fs::DescriptorBorrow<'_>, String) -> Result<(), fs::ErrorCode>;
        symlink_at(String, String) -> Result<(), fs::ErrorCode>;
        unlink_file_at(String) -> Result<(), fs::ErrorCode>;
        is_same_object(fs::DescriptorBorrow<'_>) -> bool;
        metadata_hash() -> Result<fs::MetadataHashValue, fs::ErrorCode>;
        metadata_hash_at(fs::PathFlags, String) -> Result<fs::MetadataHashValue, fs::ErrorCode>;
    }
}

impl fs::GuestDirectoryEntryStream for Never {
    never! {
        read_directory_entry() -> Result<Option<fs::DirectoryEntry>, fs::ErrorCode>;
    }
}

// wasi:sockets: one network, on which nothing is allowed.

impl sockets::network::Guest for Shim {
    type Network = Network;
}
impl sockets::network::GuestNetwork for Network {}

impl sockets::instance_network::Guest for Shim {
    fn instance_network() -> sockets::instance_network::Network {
        sockets::network::Network::new(Network)
    }
}

use bindings::exports::wasi::sockets::tcp;

impl sockets::tcp_create_socket::Guest for Shim {
    fn create_tcp_socket(_: tcp::IpAddressFamily) -> Result<tcp::TcpSocket, tcp::ErrorCode> {
        Err(tcp::ErrorCode::AccessDenied)
    }
}

impl tcp::Guest for Shim {
    type TcpSocket = Never;
}

impl tcp::GuestTcpSocket for Never {
    never! {
        start_bind(tcp::NetworkBorrow<'_>, tcp::IpSocketAddress) -> Result<(), tcp::ErrorCode>;
        finish_bind() -> Result<(), tcp::ErrorCode>;
        start_connect(tcp::NetworkBorrow<'_>, tcp::IpSocketAddress) -> Result<(), tcp::ErrorCode>;
        finish_connect() -> Result<(tcp::InputStream, tcp::OutputStream), tcp::ErrorCode>;
        start_listen() -> Result<(), tcp::ErrorCode>;
        finish_listen() -> Result<(), tcp::ErrorCode>;
        accept() -> Result<(tcp::TcpSocket, tcp::InputStream, tcp::OutputStream), tcp::ErrorCode>;
        local_address() -> Result<tcp::IpSocketAddress, tcp::ErrorCode>;
        remote_address() -> Result<tcp::IpSocketAddress, tcp::ErrorCode>;
        is_listening() -> bool;
        address_family() -> tcp::IpAddressFamily;
        set_listen_backlog_size(u64) -> Result<(), tcp::ErrorCode>;
        keep_alive_enabled() -> Result<bool, tcp::ErrorCode>;
        set_keep_alive_enabled(bool) -> Result<(), tcp::ErrorCode>;
        keep_alive_idle_time() -> Result<tcp::Duration, tcp::ErrorCode>;
        set_keep_alive_idle_time(tcp::Duration) -> Result<(), tcp::ErrorCode>;
        keep_alive_interval() -> Result<tcp::Duration, tcp::ErrorCode>;
        set_keep_alive_interval(tcp::Duration) -> Result<(), tcp::ErrorCode>;
        keep_alive_count() -> Result<u32, tcp::ErrorCode>;
        set_keep_alive_count(u32) -> Result<(), tcp::ErrorCode>;
        hop_limit() -> Result<u8, tcp::ErrorCode>;
        set_hop_limit(u8) -> Result<(), tcp::ErrorCode>;
        receive_buffer_size() -> Result<u64, tcp::ErrorCode>;
        set_receive_buffer_size(u64) -> Result<(), tcp::ErrorCode>;
        send_buffer_size() -> Result<u64, tcp::ErrorCode>;
        set_send_buffer_size(u64) -> Result<(), tcp::ErrorCode>;
        subscribe() -> tcp::Pollable;
        shutdown(tcp::ShutdownType) -> Result<(), tcp::ErrorCode>;
    }
}

use bindings::exports::wasi::sockets::udp;

impl sockets::udp_create_socket::Guest for Shim {
    fn create_udp_socket(_: udp::IpAddressFamily) -> Result<udp::UdpSocket, udp::ErrorCode> {
        Err(udp::ErrorCode::AccessDenied)
    }
}

impl udp::Guest for Shim {
    type UdpSocket = Never;
    type IncomingDatagramStream = Never;
    type OutgoingDatagramStream = Never;
}

impl udp::GuestUdpSocket for Never {
    never! {
        start_bind(udp::NetworkBorrow<'_>, udp::IpSocketAddress) -> Result<(), udp::ErrorCode>;
        finish_bind() -> Result<(), udp::ErrorCode>;
        stream(Option<udp::IpSocketAddress>)
            -> Result<(udp::IncomingDatagramStream, udp::OutgoingDatagramStream), udp::ErrorCode>;
        local_address() -> Result<udp::IpSocketAddress, udp::ErrorCode>;
        remote_address() -> Result<udp::IpSocketAddress, udp::ErrorCode>;
        address_family() -> udp::IpAddressFamily;
        unicast_hop_limit() -> Result<u8, udp::ErrorCode>;
        set_unicast_hop_limit(u8) -> Result<(), udp::ErrorCode>;
        receive_buffer_size() -> Result<u64, udp::ErrorCode>;
        set_receive_buffer_size(u64) -> Result<(), udp::ErrorCode>;
        send_buffer_size() -> Result<u64, udp::ErrorCode>;
        set_send_buffer_size(u64) -> Result<(), udp::ErrorCode>;
        subscribe() -> udp::Pollable;
    }
}

impl udp::GuestIncomingDatagramStream for Never {
    never! {
        receive(u64) -> Result<Vec<udp::IncomingDatagram>, udp::ErrorCode>;
        subscribe() -> udp::Pollable;
    }
}

impl udp::GuestOutgoingDatagramStream for Never {
    never! {
        check_send() -> Result<u64, udp::ErrorCode>;
        send(Vec<udp::OutgoingDatagram>) -> Result<u64, udp::ErrorCode>;
        subscribe() -> udp::Pollable;
    }
}

use bindings::exports::wasi::sockets::ip_name_lookup as lookup;

impl lookup::Guest for Shim {
    type ResolveAddressStream = Never;

    fn resolve_addresses(
        _: lookup::NetworkBorrow<'_>,
        _: String,
    ) -> Result<lookup::ResolveAddressStream, lookup::ErrorCode> {
        Err(lookup::ErrorCode::AccessDenied)
    }
}

impl lookup::GuestResolveAddressStream for Never {
    never! {
        resolve_next_address() -> Result<Option<lookup::IpAddress>, lookup::ErrorCode>;
        subscribe() -> lookup::Pollable;
    }
}

// wasi:random/insecure-seed: from the host's random source, the one the proxy world has.

impl random::insecure_seed::Guest for Shim {
    fn insecure_seed() -> (u64, u64) {
        (get_random_u64(), get_random_u64())
    }
}
