//! `luasocket-wasi serve [options] app.lua`: the app answers HTTP requests, each in a
//! fresh instance of the handler world, in the sandbox the options describe. The app and
//! the Lua modules under each `--modules DIR` are read once, at start, into the bundle
//! every instance is given (host/src/bundle.rs): the same files `build` would pack.

use std::process::ExitCode;
use std::sync::Arc;

use luasocket_wasi_host::bundle::Bundle;
use luasocket_wasi_host::serve::{Server, announce};
use luasocket_wasi_host::sockets::SocketsImpl;
use luasocket_wasi_host::{Interruption, Pool, Runtime, RuntimeOptions, World};

use crate::args::{Command, Script};
use crate::{LuaEnv, fail, sandbox, status};

pub fn serve(mut cmd: Command) -> ExitCode {
    let (Some(listen), Some(Script::File(app))) = (cmd.serve, cmd.script.take()) else {
        return fail(
            status::USAGE,
            "serve needs the app: serve [options] app.lua",
        );
    };
    let bundle = match Bundle::from_app(&app, &cmd.modules) {
        Ok(bundle) => bundle,
        Err(e) => return fail(status::USAGE, &e.to_string()),
    };
    let lua_env = match LuaEnv::read(cmd.lua_env && !cmd.ignore_env) {
        Ok(env) => env,
        Err(e) => return fail(status::USAGE, &e),
    };
    // No stdin for requests: the app reads its request body from wsapi_env.input.
    let sandbox = sandbox(cmd, &lua_env, true);
    luasocket_wasi_host::runtime::raise_descriptor_limit();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(status::HOST_ERROR, &e.to_string()),
    };
    let result = rt.block_on(async move {
        let runtime = Runtime::with_options(RuntimeOptions {
            cache_dir: luasocket_wasi_host::cache::default_dir(),
            sockets: SocketsImpl::from_env(),
            world: World::Handler,
            pool: Some(pool(sandbox.limits.max_memory)),
            // Requests share the worker threads: a computing one yields to the others at
            // each epoch tick, limits or not.
            interruption: Interruption::Enabled,
        })?;
        let server = Server::new(Arc::new(runtime), sandbox, bundle)?;
        let listener = tokio::net::TcpListener::bind(listen).await?;
        announce(listener.local_addr()?);
        server.run(listener).await?;
        wasmtime::Result::<()>::Ok(())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(status::HOST_ERROR, &format!("{e:#}")),
    }
}

/// Requests' instances come from a pre-reserved pool: an instance per request is the
/// server's steady cost, and the pooling allocator makes and recycles them faster.
/// `--max-memory` caps each one (1 GiB without it).
fn pool(max_memory: Option<usize>) -> Pool {
    Pool {
        instances: CONCURRENT_REQUESTS,
        max_memory: max_memory.unwrap_or(1 << 30),
    }
}

/// How many requests may be in their instances at once.
const CONCURRENT_REQUESTS: u32 = 1000;
