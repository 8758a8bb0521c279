//! Compiles the Lua modules under `lua/` to Lua 5.4 bytecode, which the component embeds
//! (`src/lua/mod.rs`): a `require` of a built-in then loads it instead of parsing its
//! source, a third of the instructions `require("socket")` took. The compiler is the same
//! Lua release the guest runs (mlua's vendored one, built for the build machine); 5.4's
//! bytecode records sizes as variable-length integers, so the 64-bit build's output loads
//! in the 32-bit guest. Debug information is kept: errors and tracebacks name the same
//! files and lines as with the source.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use mlua::Lua;

/// Modules that are another's under a second name: LuaRocks installs LuaSocket's mbox.lua
/// as `mbox` too. Requiring one of these requires the other, so both names share a table.
const ALIASES: &[(&str, &str)] = &[("mbox", "socket.mbox")];

fn main() {
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    let lua_dir = root.join("lua");
    println!("cargo:rerun-if-changed={}", lua_dir.display());
    let mut files = Vec::new();
    find_modules(&lua_dir, &mut files);
    files.sort();
    let mut table = String::from("&[\n");
    let lua = Lua::new();
    let mut compile = |name: &str, path: &str, source: Vec<u8>| {
        let chunk = lua
            .load(source)
            .set_name(format!("@{path}"))
            .into_function()
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        let compiled = out.join(format!("{name}.luac"));
        std::fs::write(&compiled, chunk.dump(false)).expect("writable OUT_DIR");
        writeln!(
            table,
            "    ({name:?}, include_bytes!({:?})),",
            compiled.display().to_string()
        )
        .expect("a String");
    };
    for file in &files {
        let relative = file.strip_prefix(&lua_dir).expect("under lua/");
        let path = relative
            .to_str()
            .expect("a UTF-8 file name")
            .replace('\\', "/");
        let name = path.trim_end_matches(".lua").replace('/', ".");
        compile(&name, &path, std::fs::read(file).expect("readable module"));
    }
    for (alias, module) in ALIASES {
        let source = format!("return require {module:?}\n");
        compile(alias, &format!("{alias}.lua"), source.into_bytes());
    }
    table.push(']');
    std::fs::write(out.join("modules.rs"), table).expect("writable OUT_DIR");
}

fn find_modules(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("lua/ is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            find_modules(&path, files);
        } else if path.extension().is_some_and(|e| e == "lua") {
            files.push(path);
        }
    }
}
