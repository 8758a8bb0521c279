//! Opening files: only regular files and directories.
//!
//! wasmtime-wasi opens files on a thread of tokio's blocking pool. Opening a FIFO blocks
//! until the other end is opened too, and some devices (terminals, serial lines) block
//! until they are ready, so a script could pin a host thread forever: the call's wall-clock
//! limit still fires, but the thread stays, and the CLI would wait for it at exit. Reads
//! from such files block the same way. `open-at` is therefore shadowed in the linker: the
//! path is looked at first (`stat-at`, which does not block on any file type), and anything
//! but a regular file or a directory is refused with `access`, which the script sees as
//! "Permission denied", as for any other refusal of the sandbox.
//!
//! The look and the open are two steps: a host process that swaps a regular file for a
//! FIFO between them can still make one open block (see SECURITY.md). Scripts cannot make
//! FIFOs or devices: WASI has no `mknod`.

use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::filesystem::{Descriptor, WasiFilesystemCtxView, WasiFilesystemView};
use wasmtime_wasi::p2::FsError;
use wasmtime_wasi::p2::bindings::filesystem::types::{
    DescriptorFlags, DescriptorType, ErrorCode, HostDescriptor, OpenFlags, PathFlags,
};

const TYPES: &str = "wasi:filesystem/types@0.2.12";

/// wasi's result for a filesystem call: the error code, or a trap.
fn code<T>(result: Result<T, FsError>) -> wasmtime::Result<(Result<T, ErrorCode>,)> {
    match result {
        Ok(v) => Ok((Ok(v),)),
        Err(e) => Ok((Err(e.downcast()?),)),
    }
}

/// Whether a file of this type may be opened. A path that does not exist yet (a file to
/// create) or cannot be looked at is left to the open itself to judge.
fn may_open(kind: Result<DescriptorType, ErrorCode>) -> bool {
    match kind {
        Ok(DescriptorType::RegularFile | DescriptorType::Directory) => true,
        // Seen only when links are not followed: the open then fails on the link itself
        // (`loop`), without blocking.
        Ok(DescriptorType::SymbolicLink) => true,
        Ok(_) => false,
        Err(_) => true,
    }
}

/// The type of what `path` names in `dir`, without opening it.
async fn kind(
    fs: &mut WasiFilesystemCtxView<'_>,
    dir: &Resource<Descriptor>,
    path_flags: PathFlags,
    path: &str,
) -> wasmtime::Result<Result<DescriptorType, ErrorCode>> {
    let this = Resource::new_borrow(dir.rep());
    let stat = HostDescriptor::stat_at(fs, this, path_flags, path.to_owned()).await;
    Ok(code(stat)?.0.map(|s| s.type_))
}

/// Shadows `descriptor.open-at` with one that refuses FIFOs, devices and sockets. `linker`
/// must hold wasmtime-wasi's interfaces already, with shadowing allowed.
pub fn add_to_linker<T: WasiFilesystemView + 'static>(
    linker: &mut Linker<T>,
) -> wasmtime::Result<()> {
    type Args = (
        Resource<Descriptor>,
        PathFlags,
        String,
        OpenFlags,
        DescriptorFlags,
    );
    linker.instance(TYPES)?.func_wrap_async(
        "[method]descriptor.open-at",
        move |mut store, (dir, path_flags, path, open_flags, flags): Args| {
            Box::new(async move {
                let mut fs = store.data_mut().filesystem();
                if !may_open(kind(&mut fs, &dir, path_flags, &path).await?) {
                    return Ok((Err(ErrorCode::Access),));
                }
                let opened =
                    HostDescriptor::open_at(&mut fs, dir, path_flags, path, open_flags, flags);
                code(opened.await)
            })
        },
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_files_and_directories_open() {
        assert!(may_open(Ok(DescriptorType::RegularFile)));
        assert!(may_open(Ok(DescriptorType::Directory)));
        assert!(may_open(Ok(DescriptorType::SymbolicLink)));
        assert!(may_open(Err(ErrorCode::NoEntry)));
        for kind in [
            DescriptorType::Fifo,
            DescriptorType::CharacterDevice,
            DescriptorType::BlockDevice,
            DescriptorType::Socket,
            DescriptorType::Unknown,
        ] {
            assert!(!may_open(Ok(kind)), "{kind:?}");
        }
    }
}
