//! Server-side SNI as LuaSec's `conn:sni(names, strict)` sets it up: the client's name
//! picks the certificate of the context mapped to it; a name not in the map keeps the
//! connection's own context, or ends the handshake when `strict`. A client that sends no
//! name always gets the connection's own (OpenSSL's servername callback is not consulted
//! then either).
//!
//! As OpenSSL's `SSL_set_SSL_CTX`, only the certificate and key change: ALPN and client
//! verification stay those of the context the connection was wrapped with.

use std::sync::Arc;

use rustls::ServerConfig;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

#[derive(Debug)]
pub struct SniResolver {
    own: Arc<dyn ResolvesServerCert>,
    /// Names as the script spelled them; LuaSec looks the name up in its table, so the
    /// match is exact.
    names: Vec<(String, Arc<ServerConfig>)>,
    strict: bool,
}

impl SniResolver {
    /// A copy of `config` whose certificate is chosen by the client's name.
    pub fn config(
        config: &ServerConfig,
        names: Vec<(String, Arc<ServerConfig>)>,
        strict: bool,
    ) -> ServerConfig {
        let mut chosen = config.clone();
        chosen.cert_resolver = Arc::new(SniResolver {
            own: config.cert_resolver.clone(),
            names,
            strict,
        });
        chosen
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let Some(name) = hello.server_name() else {
            return self.own.resolve(hello);
        };
        let mapped = self.names.iter().find(|(n, _)| n == name);
        match mapped {
            Some((_, config)) => config.cert_resolver.resolve(hello),
            // No certificate: rustls ends the handshake with a fatal alert.
            None if self.strict => None,
            None => self.own.resolve(hello),
        }
    }
}
