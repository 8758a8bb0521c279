//! An app's files, for the handler world's `bundle` import (wit/bundle.wit): the app
//! first, then the Lua modules it may `require`. `serve` hands a bundle to each request's
//! instance from here; `build` packs the same bundle into `app.wasm` ([`crate::package`]).

use std::path::{Path, PathBuf};

use wasmtime::StoreContextMut;
use wasmtime::component::Linker;

/// The interface's name, as the handler imports it.
pub const INTERFACE: &str = "luasocket:socket/bundle@0.1.0";

/// The most a bundle may hold: its files live in a 32-bit wasm memory, beside its index.
pub const MAX_SIZE: usize = 1 << 30;

/// How deep `--modules` directories are searched (a symbolic link may loop).
const MAX_DEPTH: usize = 32;

/// Files by their path in the bundle (`/`-separated, relative), the app first.
#[derive(Debug, Clone, Default)]
pub struct Bundle {
    files: Vec<(String, Vec<u8>)>,
}

/// Why a bundle could not be made.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the app {} is not a file", .0.display())]
    NotAFile(PathBuf),
    #[error("{} is not a directory", .0.display())]
    NotADirectory(PathBuf),
    #[error("the file name {} is not UTF-8", .0.display())]
    NotUtf8(PathBuf),
    #[error("the bundle would hold more than {} MiB", MAX_SIZE >> 20)]
    TooLarge,
}

impl Bundle {
    /// The app file, named by its file name, and the `.lua` files under each of
    /// `modules`, named by their paths below it (`DIR/lib/router.lua` is `lib/router.lua`,
    /// which `require "lib.router"` finds). A module that another directory, or the app,
    /// already named is left out: the first one wins, as on `package.path`.
    pub fn from_app(app: &Path, modules: &[PathBuf]) -> Result<Bundle, BundleError> {
        if !app.is_file() {
            return Err(BundleError::NotAFile(app.to_owned()));
        }
        let name = app
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| BundleError::NotUtf8(app.to_owned()))?;
        let mut bundle = Bundle::default();
        bundle.add(name.to_owned(), read(app)?)?;
        for dir in modules {
            if !dir.is_dir() {
                return Err(BundleError::NotADirectory(dir.clone()));
            }
            let mut found = Vec::new();
            lua_files(dir, "", 0, &mut found)?;
            found.sort();
            for (name, path) in found {
                if !bundle.files.iter().any(|(n, _)| *n == name) {
                    bundle.add(name, read(&path)?)?;
                }
            }
        }
        Ok(bundle)
    }

    /// A bundle of these files, as given (the first is the app): for an embedder whose
    /// app is not in files.
    pub fn from_files(files: Vec<(String, Vec<u8>)>) -> Result<Bundle, BundleError> {
        let mut bundle = Bundle::default();
        for (name, contents) in files {
            bundle.add(name, contents)?;
        }
        Ok(bundle)
    }

    fn add(&mut self, name: String, contents: Vec<u8>) -> Result<(), BundleError> {
        if self.size() + name.len() + contents.len() > MAX_SIZE {
            return Err(BundleError::TooLarge);
        }
        self.files.push((name, contents));
        Ok(())
    }

    /// The files, the app first.
    pub fn files(&self) -> &[(String, Vec<u8>)] {
        &self.files
    }

    /// Their names and contents, in bytes.
    pub fn size(&self) -> usize {
        self.files.iter().map(|(n, c)| n.len() + c.len()).sum()
    }

    fn names(&self) -> Vec<String> {
        self.files.iter().map(|(n, _)| n.clone()).collect()
    }

    fn file(&self, index: u32) -> Vec<u8> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.files.get(i))
            .map(|(_, c)| c.clone())
            .unwrap_or_default()
    }
}

fn read(path: &Path) -> Result<Vec<u8>, BundleError> {
    std::fs::read(path).map_err(|source| BundleError::Read {
        path: path.to_owned(),
        source,
    })
}

/// The `.lua` files below `dir`, as (bundle path, host path).
fn lua_files(
    dir: &Path,
    prefix: &str,
    depth: usize,
    found: &mut Vec<(String, PathBuf)>,
) -> Result<(), BundleError> {
    if depth > MAX_DEPTH {
        return Ok(());
    }
    let entries = std::fs::read_dir(dir).map_err(|source| BundleError::Read {
        path: dir.to_owned(),
        source,
    })?;
    for entry in entries {
        let path = entry
            .map_err(|source| BundleError::Read {
                path: dir.to_owned(),
                source,
            })?
            .path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            return Err(BundleError::NotUtf8(path));
        };
        let bundled = format!("{prefix}{name}");
        if path.is_dir() {
            lua_files(&path, &format!("{bundled}/"), depth + 1, found)?;
        } else if path.is_file() && name.ends_with(".lua") {
            found.push((bundled, path));
        }
    }
    Ok(())
}

/// Defines the `bundle` import: each instance is given the bundle `get` finds in its
/// store (`HostState::bundle`, which `serve` sets).
pub(crate) fn add_to_linker<T: 'static>(
    linker: &mut Linker<T>,
    get: fn(&T) -> &Bundle,
) -> wasmtime::Result<()> {
    let mut instance = linker.instance(INTERFACE)?;
    instance.func_wrap("names", move |store: StoreContextMut<'_, T>, (): ()| {
        Ok((get(store.data()).names(),))
    })?;
    instance.func_wrap(
        "file",
        move |store: StoreContextMut<'_, T>, (index,): (u32,)| Ok((get(store.data()).file(index),)),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_first_then_modules_by_path_and_the_first_name_wins() {
        let root = std::env::temp_dir().join(format!("bundle-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("mods/lib")).unwrap();
        std::fs::write(root.join("app.lua"), "return 1").unwrap();
        std::fs::write(root.join("mods/app.lua"), "shadowed").unwrap();
        std::fs::write(root.join("mods/lib/router.lua"), "r").unwrap();
        std::fs::write(root.join("mods/json.lua"), "j").unwrap();
        std::fs::write(root.join("mods/README"), "not Lua").unwrap();
        let bundle = Bundle::from_app(&root.join("app.lua"), &[root.join("mods")]).unwrap();
        assert_eq!(
            bundle.names(),
            ["app.lua", "json.lua", "lib/router.lua"].map(String::from)
        );
        assert_eq!(bundle.file(0), b"return 1");
        assert_eq!(bundle.file(2), b"r");
        assert!(bundle.file(3).is_empty());
        assert!(matches!(
            Bundle::from_app(&root.join("mods"), &[]),
            Err(BundleError::NotAFile(_))
        ));
        std::fs::remove_dir_all(&root).unwrap();
    }
}
