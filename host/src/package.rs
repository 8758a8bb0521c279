//! `luasocket-wasi build`: an app packed into one component that any `wasi:http` host
//! serves as it is. Three components are composed:
//!
//! - the handler world's component (the Lua runtime, the WSAPI connector);
//! - a data component generated here, exporting the app's [`Bundle`];
//! - the shim (shim/), which answers the interfaces the runtime imports beyond
//!   `wasi:http/proxy` (sockets, filesystem, environment…) as a host that grants nothing
//!   does, so that `socket.tcp()` fails with `nil, "permission denied"` there rather
//!   than the component failing to link.
//!
//! The result imports only the proxy world and exports only
//! `wasi:http/incoming-handler`, which is what `wasmtime serve`, Spin and runwasi
//! look for.

use wasm_compose::graph::{CompositionGraph, EncodeOptions};
use wasm_encoder::{
    BlockType, CodeSection, ComponentExportSection, ConstExpr, DataSection, ExportKind,
    ExportSection, Function, FunctionSection, MemorySection, MemoryType, Module, RawSection,
    TypeSection, ValType,
};
use wasmparser::{ComponentExternalKind, Parser, Payload};

use crate::bundle::{Bundle, INTERFACE};
use crate::component::{HANDLER_WASM, SHIM_WASM};

/// The one export an edge host looks for; the prefix leaves its version open.
const INCOMING_HANDLER: &str = "wasi:http/incoming-handler@";

/// The data component's world: wit/bundle.wit, in the package its other files declare.
const BUNDLE_WIT: &str = include_str!("../../wit/bundle.wit");
const BUNDLE_PACKAGE: &str = "package luasocket:socket@0.1.0;";

/// Why an app could not be packed.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("the bundle's data component: {0:#}")]
    Data(anyhow::Error),
    #[error("composing the app: {0:#}")]
    Compose(anyhow::Error),
    #[error("the composed component: {0}")]
    Parse(#[from] wasmparser::BinaryReaderError),
    #[error("the composed component exports no {INCOMING_HANDLER}*")]
    NoHandler,
}

/// `app.wasm`: the handler, `bundle` and the shim composed.
pub fn package(bundle: &Bundle) -> Result<Vec<u8>, PackageError> {
    let data = data_component(bundle).map_err(PackageError::Data)?;
    let composed = compose(&data).map_err(PackageError::Compose)?;
    only_incoming_handler(&composed)
}

/// Each of the handler's imports that the data component or the shim exports comes from
/// them; the rest (the proxy world) stay imports of the whole.
fn compose(data: &[u8]) -> anyhow::Result<Vec<u8>> {
    use wasm_compose::graph::Component;
    let mut graph = CompositionGraph::new();
    let mut validator = validator();
    let mut add = |name: &str, bytes: Vec<u8>| {
        graph.add_component(Component::from_bytes(&mut validator, name, bytes)?)
    };
    let handler = add("handler", HANDLER_WASM.to_vec())?;
    let providers = [
        add("bundle", data.to_vec())?,
        add("shim", SHIM_WASM.to_vec())?,
    ];
    let handler_instance = graph.instantiate(handler)?;
    let provider_instances = [
        graph.instantiate(providers[0])?,
        graph.instantiate(providers[1])?,
    ];
    let mut links = Vec::new();
    let handler_component = graph.get_component(handler).expect("just added");
    for (import, name, _) in handler_component.imports() {
        for (provider, instance) in providers.iter().zip(provider_instances) {
            let component = graph.get_component(*provider).expect("just added");
            if let Some((export, _, _)) = component.export_by_name(name) {
                links.push((instance, export, import));
                break;
            }
        }
    }
    for (instance, export, import) in links {
        graph.connect(instance, Some(export), handler_instance, import)?;
    }
    graph.encode(EncodeOptions {
        define_components: true,
        export: Some(handler_instance),
        validate: true,
    })
}

/// `component` with its exports cut to `wasi:http/incoming-handler`: the handler's
/// others (`wasi:cli/run`, the socket resources) mean nothing on an edge host, and a
/// host that also runs commands (runwasi) might take `wasi:cli/run` for the entry point.
/// The exports are the composition's last section and nothing refers to them, so
/// dropping some leaves every index as it was.
fn only_incoming_handler(component: &[u8]) -> Result<Vec<u8>, PackageError> {
    let mut out = Vec::with_capacity(component.len());
    let mut found = false;
    // parse_all also walks the nested modules and components: their payloads are
    // skipped, since each came whole with the section that holds it.
    let mut nested = 0usize;
    for payload in Parser::new(0).parse_all(component) {
        let payload = payload?;
        match &payload {
            Payload::Version { .. } if nested == 0 => {
                out.extend_from_slice(&wasm_encoder::Component::HEADER);
                continue;
            }
            Payload::End(_) => {
                nested = nested.saturating_sub(1);
                continue;
            }
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } if nested > 0 => {
                nested += 1;
                continue;
            }
            _ if nested > 0 => continue,
            Payload::ComponentExportSection(exports) => {
                let mut kept = ComponentExportSection::new();
                for export in exports.clone() {
                    let export = export?;
                    if export.name.name.starts_with(INCOMING_HANDLER)
                        && export.kind == ComponentExternalKind::Instance
                    {
                        kept.export(
                            export.name.name,
                            wasm_encoder::ComponentExportKind::Instance,
                            export.index,
                            None,
                        );
                        found = true;
                    }
                }
                push_section(&mut out, &kept);
                continue;
            }
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => nested += 1,
            _ => {}
        }
        if let Some((id, range)) = payload.as_section() {
            push_section(
                &mut out,
                &RawSection {
                    id,
                    data: &component[range],
                },
            );
        }
    }
    if !found {
        return Err(PackageError::NoHandler);
    }
    validator().validate_all(&out)?;
    Ok(out)
}

/// The guest uses exceptions (Lua's `error` unwinds with them) and more of Wasm 3.0.
fn validator() -> wasmparser::Validator {
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
}

fn push_section(out: &mut Vec<u8>, section: &impl wasm_encoder::ComponentSection) {
    out.push(section.id());
    section.encode(out);
}

/// A component exporting `bundle`: a core module whose memory holds the files and the
/// canonical ABI's views of them, and whose two functions return where those views are.
fn data_component(bundle: &Bundle) -> anyhow::Result<Vec<u8>> {
    let image = Image::new(bundle)?;
    let mut module = image.module().finish();
    let mut resolve = wit_parser::Resolve::default();
    let package = resolve.push_str("bundle.wit", &format!("{BUNDLE_PACKAGE}\n{BUNDLE_WIT}"))?;
    let world = resolve.select_world(&[package], Some("bundle-data"))?;
    wit_component::embed_component_metadata(
        &mut module,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
    )?;
    wit_component::ComponentEncoder::default()
        .module(&module)?
        .validate(true)
        .encode()
}

/// The data module's memory, laid out as the canonical ABI reads results from it:
///
/// | offset | what |
/// |---|---|
/// | 0 | an empty list (0, 0): `file` past the end |
/// | 8 | `names`' result: (pointer, count) of the name list |
/// | 16 | the name list: (pointer, length) per name |
/// | `files` | `file`'s results: (pointer, length) per file |
/// | after | the names' and files' bytes |
struct Image {
    bytes: Vec<u8>,
    count: u32,
    files: u32,
}

const EMPTY: u32 = 0;
const NAMES_RESULT: u32 = 8;
const NAME_LIST: u32 = 16;

impl Image {
    fn new(bundle: &Bundle) -> anyhow::Result<Image> {
        let count = u32::try_from(bundle.files().len())?;
        let files = NAME_LIST + 8 * count;
        let mut bytes = vec![0u8; (files + 8 * count) as usize];
        let put = |bytes: &mut Vec<u8>, at: u32, data: &[u8]| -> anyhow::Result<()> {
            let pointer = u32::try_from(bytes.len())?;
            let length = u32::try_from(data.len())?;
            bytes.extend_from_slice(data);
            write_pair(bytes, at, pointer, length);
            Ok(())
        };
        write_pair(&mut bytes, EMPTY, 0, 0);
        write_pair(&mut bytes, NAMES_RESULT, NAME_LIST, count);
        for (i, (name, contents)) in (0u32..).zip(bundle.files()) {
            put(&mut bytes, NAME_LIST + 8 * i, name.as_bytes())?;
            put(&mut bytes, files + 8 * i, contents)?;
        }
        u32::try_from(bytes.len())?;
        Ok(Image {
            bytes,
            count,
            files,
        })
    }

    fn module(&self) -> Module {
        let mut types = TypeSection::new();
        types.ty().function([], [ValType::I32]);
        types.ty().function([ValType::I32], [ValType::I32]);
        let mut functions = FunctionSection::new();
        functions.function(0).function(1);
        let mut memories = MemorySection::new();
        memories.memory(MemoryType {
            minimum: (self.bytes.len() as u64).div_ceil(65536).max(1),
            maximum: None,
            memory64: false,
            shared: false,
            page_size_log2: None,
        });
        let mut exports = ExportSection::new();
        exports
            .export("memory", ExportKind::Memory, 0)
            .export(&format!("{INTERFACE}#names"), ExportKind::Func, 0)
            .export(&format!("{INTERFACE}#file"), ExportKind::Func, 1);
        let mut code = CodeSection::new();
        let mut names = Function::new([]);
        names.instructions().i32_const(NAMES_RESULT as i32).end();
        code.function(&names);
        // file(i): files + 8 * i while i < count, else the empty list.
        let mut file = Function::new([]);
        file.instructions()
            .local_get(0)
            .i32_const(self.count as i32)
            .i32_lt_u()
            .if_(BlockType::Result(ValType::I32))
            .local_get(0)
            .i32_const(3)
            .i32_shl()
            .i32_const(self.files as i32)
            .i32_add()
            .else_()
            .i32_const(EMPTY as i32)
            .end()
            .end();
        code.function(&file);
        let mut data = DataSection::new();
        data.active(0, &ConstExpr::i32_const(0), self.bytes.iter().copied());
        let mut module = Module::new();
        module
            .section(&types)
            .section(&functions)
            .section(&memories)
            .section(&exports)
            .section(&code)
            .section(&data);
        module
    }
}

fn write_pair(bytes: &mut [u8], at: u32, first: u32, second: u32) {
    let at = at as usize;
    bytes[at..at + 4].copy_from_slice(&first.to_le_bytes());
    bytes[at + 4..at + 8].copy_from_slice(&second.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use wasmtime::component::{Component, Linker};
    use wasmtime::{Engine, Store};

    use super::*;

    /// The generated component, run: its hand-laid memory must read back as the
    /// canonical ABI lifts it.
    #[test]
    fn the_data_component_gives_back_every_file() {
        let bundle = Bundle::from_files(vec![
            ("app.lua".into(), b"return 1".to_vec()),
            ("lib/x.lua".into(), Vec::new()),
            ("big.lua".into(), vec![7u8; 200_000]),
        ])
        .unwrap();
        let engine = Engine::default();
        let component = Component::new(&engine, data_component(&bundle).unwrap()).unwrap();
        let mut store = Store::new(&engine, ());
        let instance = Linker::new(&engine)
            .instantiate(&mut store, &component)
            .unwrap();
        let interface = instance
            .get_export_index(&mut store, None, INTERFACE)
            .unwrap();
        let func = |store: &mut Store<()>, name| {
            let index = instance
                .get_export_index(&mut *store, Some(&interface), name)
                .unwrap();
            instance.get_func(&mut *store, index).unwrap()
        };
        let names = func(&mut store, "names")
            .typed::<(), (Vec<String>,)>(&store)
            .unwrap();
        let file = func(&mut store, "file")
            .typed::<(u32,), (Vec<u8>,)>(&store)
            .unwrap();
        let (listed,) = names.call(&mut store, ()).unwrap();
        assert_eq!(listed, ["app.lua", "lib/x.lua", "big.lua"]);
        for (i, (_, contents)) in (0u32..).zip(bundle.files()) {
            assert_eq!(&file.call(&mut store, (i,)).unwrap().0, contents);
        }
        for past in [3, 1000, u32::MAX] {
            assert!(file.call(&mut store, (past,)).unwrap().0.is_empty());
        }
    }
}
