//! TLS over the socket core: contexts from LuaSec-style parameters (`config`), verification
//! that is always run and remembered (`verify`), connections over a TCP object
//! (`session`) with server-side SNI (`sni`), and certificates described for scripts (`x509`).

pub mod config;
pub mod session;
pub mod sni;
pub mod verify;
pub mod x509;

pub use config::{ConfigError, Context, Mode, Params};
pub use session::{Info, Tls};
