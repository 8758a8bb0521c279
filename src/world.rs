//! What differs between the worlds this crate builds into (wit/plugin.wit lists them):
//! the bindings `generate!` makes (in `lib.rs`, by cargo feature), and here, what each
//! world's imports give the core. The command world has no host to call; the plugin
//! world's host is its `luasocket:socket/host` import. A new world adds its case here and
//! its exports beside `wit`.

use crate::lua::host::Host;

/// The host Lua may call in this world, if it has one.
pub fn host() -> Option<&'static &'static dyn Host> {
    #[cfg(feature = "plugin-world")]
    return Some(&plugin::HOST);
    #[cfg(not(feature = "plugin-world"))]
    None
}

#[cfg(feature = "plugin-world")]
mod plugin {
    use crate::exports::luasocket::socket::lua::Value;
    use crate::lua::host::{Host, Offer};
    use crate::luasocket::socket::host as import;

    pub static HOST: &dyn Host = &Import;

    /// The `host` import.
    struct Import;

    impl Host for Import {
        fn offer(&self) -> Offer {
            let offer = import::offered();
            Offer {
                module: offer.module,
                functions: offer.functions,
            }
        }

        fn call(&self, name: &str, args: &[Value]) -> Result<Vec<Value>, String> {
            import::call(name, args)
        }
    }
}
