//! `luasocket-wasi build app.lua [--modules DIR]... -o app.wasm`: the app and its
//! modules packed into one component for any `wasi:http` host (host/src/package.rs).
//! Its options may come in any order: there is no script and no `arg` to keep in place.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use luasocket_wasi_host::bundle::Bundle;
use luasocket_wasi_host::package;

use crate::{USAGE, fail, status};

const BUILD_USAGE: &str =
    "build needs the app and the output: build app.lua [--modules DIR] -o app.wasm";

#[derive(Debug, Default, PartialEq)]
struct Build {
    app: PathBuf,
    modules: Vec<PathBuf>,
    output: PathBuf,
}

pub fn build(args: &[OsString]) -> ExitCode {
    let build = match parse(args) {
        Ok(build) => build,
        Err(e) => return fail(status::USAGE, &format!("{e}\n{USAGE}")),
    };
    let bundle = match Bundle::from_app(&build.app, &build.modules) {
        Ok(bundle) => bundle,
        Err(e) => return fail(status::USAGE, &e.to_string()),
    };
    let wasm = match package::package(&bundle) {
        Ok(wasm) => wasm,
        Err(e) => return fail(status::HOST_ERROR, &e.to_string()),
    };
    if let Err(e) = std::fs::write(&build.output, &wasm) {
        let output = build.output.display();
        return fail(status::HOST_ERROR, &format!("cannot write {output}: {e}"));
    }
    eprintln!(
        "{}: {} file(s), {} bytes of Lua, in a {} byte component",
        build.output.display(),
        bundle.files().len(),
        bundle.size(),
        wasm.len()
    );
    ExitCode::SUCCESS
}

fn parse(args: &[OsString]) -> Result<Build, String> {
    let mut build = Build::default();
    let (mut app, mut output) = (None, None);
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| {
            args.next()
                .map(PathBuf::from)
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match arg.to_str() {
            Some("-o" | "--output") => output = Some(value("-o")?),
            Some("--modules") => build.modules.push(value("--modules")?),
            Some(flag) if flag.starts_with('-') => {
                return Err(format!("unknown option for build: {flag}"));
            }
            _ if app.is_none() => app = Some(PathBuf::from(arg)),
            _ => return Err(BUILD_USAGE.into()),
        }
    }
    build.app = app.ok_or(BUILD_USAGE)?;
    build.output = output.ok_or(BUILD_USAGE)?;
    Ok(build)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn options_in_any_order() {
        let expected = Build {
            app: "app.lua".into(),
            modules: vec!["lib".into(), "vendor".into()],
            output: "app.wasm".into(),
        };
        let line = [
            "--modules",
            "lib",
            "app.lua",
            "-o",
            "app.wasm",
            "--modules",
            "vendor",
        ];
        assert_eq!(parse(&args(&line)), Ok(expected));
    }

    #[test]
    fn the_app_and_the_output_are_needed() {
        assert!(parse(&args(&["app.lua"])).is_err());
        assert!(parse(&args(&["-o", "app.wasm"])).is_err());
        assert!(parse(&args(&["a.lua", "b.lua", "-o", "x"])).is_err());
        assert!(parse(&args(&["a.lua", "-o"])).is_err());
        assert!(parse(&args(&["a.lua", "-x", "-o", "y"])).is_err());
    }
}
