//! A TLS context as LuaSec's `ssl.newcontext` describes one, turned into a rustls
//! configuration. Names are LuaSec's and OpenSSL's; what rustls cannot do is refused by
//! name rather than ignored, except OpenSSL options that only switch off what rustls never
//! offers (old protocols, compression, renegotiation), which are accepted as already true.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::crypto::ring::{cipher_suite as cs, kx_group};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore, ServerConfig, SupportedCipherSuite};

use super::verify::{ClientVerifier, ServerVerifier, VerifyExt};

/// Why a context could not be made. The messages name the offending setting or file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid mode")]
    Mode,
    /// LuaSec's words; `ssl.config.protocols` lists the ones there are (TLS 1.2 and 1.3).
    #[error("invalid protocol ({0})")]
    Protocol(String),
    #[error("invalid verify option ({0})")]
    Verify(String),
    #[error("invalid option ({0})")]
    Option(String),
    #[error("invalid cipher ({0})")]
    Cipher(String),
    #[error("no cipher suite left for the enabled protocols")]
    NoCipher,
    #[error("elliptic curve '{0}' not supported")]
    Curve(String),
    #[error("error loading {what} ({path}): {reason}")]
    Load {
        what: &'static str,
        path: String,
        reason: String,
    },
    #[error("error loading private key ({0}): encrypted keys are not supported, decrypt it first")]
    EncryptedKey(String),
    #[error("a server context needs a certificate and a key")]
    ServerIdentity,
    #[error("private key does not match public key")]
    KeyMismatch,
    #[error("verifying clients needs cafile or capath")]
    NoClientRoots,
    #[error("{0}")]
    Rustls(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Client,
    Server,
}

/// LuaSec's parameters, as the script gave them (file names, not contents).
#[derive(Debug, Default, Clone)]
pub struct Params {
    pub mode: String,
    pub protocol: Option<String>,
    pub key: Option<String>,
    pub certificate: Option<String>,
    pub cafile: Option<String>,
    pub capath: Option<String>,
    /// `None`: the default, which here is to verify (LuaSec's is not to).
    pub verify: Option<Vec<String>>,
    pub options: Vec<String>,
    pub ciphers: Option<String>,
    pub ciphersuites: Option<String>,
    pub curves: Option<String>,
    pub alpn: Vec<String>,
}

/// A ready context: what `ssl.newcontext` returns. Its verifiers share the context's
/// `setverifyext` flags, which may change after the configuration is made.
#[derive(Debug, Clone)]
pub enum Context {
    Client(Arc<ClientConfig>, Arc<VerifyExt>),
    Server(Arc<ServerConfig>, Arc<VerifyExt>),
}

impl Context {
    pub fn mode(&self) -> Mode {
        match self {
            Context::Client(..) => Mode::Client,
            Context::Server(..) => Mode::Server,
        }
    }

    pub fn verify_ext(&self) -> &VerifyExt {
        match self {
            Context::Client(_, ext) | Context::Server(_, ext) => ext,
        }
    }
}

/// The suites rustls offers, with OpenSSL's name for each (TLS 1.3 names are the same).
/// Client preference order: ChaCha20 first, since AES without AES instructions (as in
/// wasm) is several times slower.
const SUITES: &[(SupportedCipherSuite, &str)] = &[
    (
        cs::TLS13_CHACHA20_POLY1305_SHA256,
        "TLS_CHACHA20_POLY1305_SHA256",
    ),
    (cs::TLS13_AES_128_GCM_SHA256, "TLS_AES_128_GCM_SHA256"),
    (cs::TLS13_AES_256_GCM_SHA384, "TLS_AES_256_GCM_SHA384"),
    (
        cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        "ECDHE-ECDSA-CHACHA20-POLY1305",
    ),
    (
        cs::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        "ECDHE-RSA-CHACHA20-POLY1305",
    ),
    (
        cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        "ECDHE-ECDSA-AES128-GCM-SHA256",
    ),
    (
        cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        "ECDHE-RSA-AES128-GCM-SHA256",
    ),
    (
        cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        "ECDHE-ECDSA-AES256-GCM-SHA384",
    ),
    (
        cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        "ECDHE-RSA-AES256-GCM-SHA384",
    ),
];

/// OpenSSL's name for a suite.
pub fn suite_name(suite: SupportedCipherSuite) -> &'static str {
    SUITES
        .iter()
        .find(|(s, _)| s.suite() == suite.suite())
        .map_or("unknown", |(_, n)| n)
}

fn is_tls13(suite: &SupportedCipherSuite) -> bool {
    matches!(suite, SupportedCipherSuite::Tls13(_))
}

/// OpenSSL options that ask for what rustls does anyway.
const HARMLESS_OPTIONS: &[&str] = &[
    "all",
    "no_sslv2",
    "no_sslv3",
    "no_tlsv1",
    "no_tlsv1_1",
    "no_compression",
    "no_renegotiation",
    "single_dh_use",
    "single_ecdh_use",
    "cipher_server_preference",
    "no_ticket",
    "no_session_resumption_on_renegotiation",
    "allow_unsafe_legacy_renegotiation",
    "legacy_server_connect",
    "dont_insert_empty_fragments",
    "microsoft_sess_id_bug",
    "netscape_challenge_bug",
    "tls_rollback_bug",
    "no_query_mtu",
    "ignore_unexpected_eof",
];

impl Params {
    pub fn build(&self) -> Result<Context, ConfigError> {
        let mode = match self.mode.as_str() {
            "client" => Mode::Client,
            "server" => Mode::Server,
            _ => return Err(ConfigError::Mode),
        };
        let versions = self.versions()?;
        let provider = Arc::new(self.provider(&versions)?);
        let verify = self.verify_flags(mode)?;
        let identity = self.identity()?;
        match mode {
            Mode::Client => self.client(provider, &versions, verify, identity),
            Mode::Server => self.server(provider, &versions, verify, identity),
        }
    }

    fn versions(&self) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, ConfigError> {
        let mut versions = match self.protocol.as_deref().unwrap_or("any") {
            "any" | "sslv23" => vec![&rustls::version::TLS13, &rustls::version::TLS12],
            "tlsv1_2" => vec![&rustls::version::TLS12],
            "tlsv1_3" => vec![&rustls::version::TLS13],
            other => return Err(ConfigError::Protocol(other.into())),
        };
        for option in &self.options {
            match option.as_str() {
                "no_tlsv1_2" => versions.retain(|v| v.version != rustls::ProtocolVersion::TLSv1_2),
                "no_tlsv1_3" => versions.retain(|v| v.version != rustls::ProtocolVersion::TLSv1_3),
                o if HARMLESS_OPTIONS.contains(&o) => {}
                o => return Err(ConfigError::Option(o.into())),
            }
        }
        if versions.is_empty() {
            return Err(ConfigError::Protocol("none left after options".into()));
        }
        Ok(versions)
    }

    /// ring's provider, narrowed to the chosen suites and curves.
    fn provider(
        &self,
        versions: &[&'static rustls::SupportedProtocolVersion],
    ) -> Result<CryptoProvider, ConfigError> {
        let all: Vec<SupportedCipherSuite> = SUITES.iter().map(|(s, _)| *s).collect();
        let tls12: Vec<_> = match &self.ciphers {
            Some(list) => select_suites(list, &all, false)?,
            None => all.iter().filter(|s| !is_tls13(s)).copied().collect(),
        };
        let tls13: Vec<_> = match &self.ciphersuites {
            Some(list) => select_suites(list, &all, true)?,
            None => all.iter().filter(|s| is_tls13(s)).copied().collect(),
        };
        let mut suites = Vec::new();
        for v in versions {
            match v.version {
                rustls::ProtocolVersion::TLSv1_3 => suites.extend(&tls13),
                _ => suites.extend(&tls12),
            }
        }
        if suites.is_empty() || versions.iter().all(|v| !offers(v, &suites)) {
            return Err(ConfigError::NoCipher);
        }
        let mut provider = rustls::crypto::ring::default_provider();
        provider.cipher_suites = suites;
        if let Some(curves) = &self.curves {
            provider.kx_groups = curves
                .split(':')
                .map(|c| match c {
                    "X25519" | "x25519" => Ok(kx_group::X25519),
                    "P-256" | "prime256v1" | "secp256r1" => Ok(kx_group::SECP256R1),
                    "P-384" | "secp384r1" => Ok(kx_group::SECP384R1),
                    other => Err(ConfigError::Curve(other.into())),
                })
                .collect::<Result<_, _>>()?;
        }
        Ok(provider)
    }

    /// (verify the peer, insist on a certificate) from `verify`.
    fn verify_flags(&self, mode: Mode) -> Result<(bool, bool), ConfigError> {
        let Some(list) = &self.verify else {
            // Safe by default for clients; servers ask for client certificates on request.
            return Ok((mode == Mode::Client, false));
        };
        let (mut peer, mut insist) = (false, false);
        for flag in list {
            match flag.as_str() {
                "none" => {}
                "peer" => peer = true,
                "fail_if_no_peer_cert" => insist = true,
                "client_once" => {}
                other => return Err(ConfigError::Verify(other.into())),
            }
        }
        Ok((peer, peer && insist))
    }

    fn identity(
        &self,
    ) -> Result<Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>, ConfigError> {
        match (&self.certificate, &self.key) {
            (Some(cert), Some(key)) => Ok(Some((load_certificates(cert)?, load_key(key)?))),
            (Some(cert), None) => Ok(Some((load_certificates(cert)?, load_key(cert)?))),
            // LuaSec loads a key given alone too (and so fails on a missing one).
            (None, Some(key)) => load_key(key).map(|_| None),
            (None, None) => Ok(None),
        }
    }

    /// Roots from `cafile` and `capath`.
    fn own_roots(&self) -> Result<RootCertStore, ConfigError> {
        let mut roots = RootCertStore::empty();
        let mut files: Vec<String> = self.cafile.iter().cloned().collect();
        if let Some(dir) = &self.capath {
            let entries =
                std::fs::read_dir(dir).map_err(|e| load_error("capath", dir, io_reason(&e)))?;
            let mut names: Vec<String> = entries
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .map(|e| e.path().to_string_lossy().into_owned())
                .collect();
            names.sort();
            files.extend(names);
        }
        for file in files {
            for cert in load_certificates(&file)? {
                roots.add(cert).map_err(|e| ConfigError::Load {
                    what: "CA certificate",
                    path: file.clone(),
                    reason: e.to_string(),
                })?;
            }
        }
        Ok(roots)
    }

    fn client(
        &self,
        provider: Arc<CryptoProvider>,
        versions: &[&'static rustls::SupportedProtocolVersion],
        (peer, _): (bool, bool),
        identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    ) -> Result<Context, ConfigError> {
        let ext = Arc::new(VerifyExt::default());
        let mut roots = self.own_roots()?;
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let inner = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            provider.clone(),
        )
        .build()
        .map_err(|e| ConfigError::Rustls(e.to_string()))?;
        let builder = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .map_err(rustls_error)?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(ServerVerifier {
                inner,
                enforce: peer,
                ext: ext.clone(),
            }));
        let mut config = match identity {
            Some((certs, key)) => builder
                .with_client_auth_cert(certs, key)
                .map_err(rustls_error)?,
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = self.alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
        Ok(Context::Client(Arc::new(config), ext))
    }

    fn server(
        &self,
        provider: Arc<CryptoProvider>,
        versions: &[&'static rustls::SupportedProtocolVersion],
        (peer, insist): (bool, bool),
        identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    ) -> Result<Context, ConfigError> {
        let ext = Arc::new(VerifyExt::default());
        let (certs, key) = identity.ok_or(ConfigError::ServerIdentity)?;
        let builder = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .map_err(rustls_error)?;
        let builder = if peer {
            let roots = self.own_roots()?;
            if roots.is_empty() {
                return Err(ConfigError::NoClientRoots);
            }
            let verifier =
                ClientVerifier::new(Arc::new(roots), insist, ext.clone()).map_err(rustls_error)?;
            builder.with_client_cert_verifier(Arc::new(verifier))
        } else {
            builder.with_no_client_auth()
        };
        let mut config = builder.with_single_cert(certs, key).map_err(rustls_error)?;
        config.alpn_protocols = self.alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
        Ok(Context::Server(Arc::new(config), ext))
    }
}

fn offers(version: &rustls::SupportedProtocolVersion, suites: &[SupportedCipherSuite]) -> bool {
    suites.iter().any(|s| s.version() == version)
}

fn rustls_error(e: rustls::Error) -> ConfigError {
    match e {
        rustls::Error::InconsistentKeys(_) => ConfigError::KeyMismatch,
        e => ConfigError::Rustls(e.to_string()),
    }
}

fn load_error(what: &'static str, path: &str, e: impl std::fmt::Display) -> ConfigError {
    ConfigError::Load {
        what,
        path: path.into(),
        reason: e.to_string(),
    }
}

fn read(what: &'static str, path: &str) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(path).map_err(|e| load_error(what, path, io_reason(&e)))
}

/// An I/O failure in the words of the C library, without Rust's "(os error N)", whose
/// number is WASI's here, not the host's.
fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "No such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "Permission denied".into(),
        std::io::ErrorKind::IsADirectory => "Is a directory".into(),
        _ => e.to_string(),
    }
}

fn load_certificates(path: &str) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let pem = read("certificate", path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| load_error("certificate", path, e))?;
    if certs.is_empty() {
        return Err(load_error("certificate", path, "no certificate found"));
    }
    Ok(certs)
}

fn load_key(path: &str) -> Result<PrivateKeyDer<'static>, ConfigError> {
    let pem = read("private key", path)?;
    let text = String::from_utf8_lossy(&pem);
    if text.contains("ENCRYPTED PRIVATE KEY") || text.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(ConfigError::EncryptedKey(path.into()));
    }
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| load_error("private key", path, e))
}

/// The suites an OpenSSL cipher string selects, in the order it lists them: exact names,
/// and the keywords and `A+B` combinations that describe what rustls has. Exclusions
/// (`!X`, `-X`) remove matches and are otherwise ignored, as they can only exclude what
/// is not offered anyway.
fn select_suites(
    list: &str,
    all: &[SupportedCipherSuite],
    tls13: bool,
) -> Result<Vec<SupportedCipherSuite>, ConfigError> {
    let pool: Vec<SupportedCipherSuite> = all
        .iter()
        .filter(|s| is_tls13(s) == tls13)
        .copied()
        .collect();
    let mut chosen: Vec<SupportedCipherSuite> = Vec::new();
    let mut excluded: Vec<SupportedCipherSuite> = Vec::new();
    for token in list.split([':', ',', ' ']).filter(|t| !t.is_empty()) {
        let (exclude, body) = match token.as_bytes()[0] {
            b'!' | b'-' => (true, &token[1..]),
            b'+' => (false, &token[1..]),
            _ => (false, token),
        };
        let matching: Vec<_> = pool
            .iter()
            .filter(|s| matches_spec(**s, body))
            .copied()
            .collect();
        if exclude {
            excluded.extend(matching);
        } else if matching.is_empty() && !known_elsewhere(body, tls13) {
            return Err(ConfigError::Cipher(body.into()));
        } else {
            for suite in matching {
                if !chosen.contains(&suite) {
                    chosen.push(suite);
                }
            }
        }
    }
    chosen.retain(|s| !excluded.contains(s));
    Ok(chosen)
}

/// Whether `spec` (a name, a keyword, or keywords joined by `+`) describes `suite`.
fn matches_spec(suite: SupportedCipherSuite, spec: &str) -> bool {
    let name = suite_name(suite);
    let iana = format!("{:?}", suite.suite());
    if spec == name || spec == iana || spec == iana.replace("TLS13_", "TLS_") {
        return true;
    }
    spec.split('+').all(|word| match word {
        "ALL" | "DEFAULT" | "HIGH" | "SECURE" | "FIPS" | "TLSv1.2" | "TLSv1.3" => true,
        "ECDHE" | "EECDH" | "kECDHE" | "kEECDH" => !is_tls13(&suite),
        "AESGCM" | "GCM" => name.contains("GCM"),
        "AES" => name.contains("AES"),
        "AES128" => name.contains("AES128") || name.contains("AES_128"),
        "AES256" => name.contains("AES256") || name.contains("AES_256"),
        "CHACHA20" => name.contains("CHACHA20"),
        "ECDSA" | "aECDSA" => name.contains("ECDSA"),
        "RSA" | "aRSA" => name.contains("-RSA-"),
        "SHA256" => name.ends_with("SHA256") || name.contains("POLY1305"),
        "SHA384" => name.ends_with("SHA384"),
        _ => false,
    })
}

/// Names of the other TLS version's suites, so `ciphers` may list 1.3 names and
/// `ciphersuites` 1.2 ones (OpenSSL ignores them there too).
fn known_elsewhere(spec: &str, tls13: bool) -> bool {
    SUITES
        .iter()
        .any(|(s, _)| is_tls13(s) != tls13 && matches_spec(*s, spec))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<SupportedCipherSuite> {
        SUITES.iter().map(|(s, _)| *s).collect()
    }

    fn names(list: &str, tls13: bool) -> Result<Vec<&'static str>, ConfigError> {
        Ok(select_suites(list, &all(), tls13)?
            .into_iter()
            .map(suite_name)
            .collect())
    }

    #[test]
    fn openssl_cipher_strings_select_rustls_suites() {
        assert_eq!(
            names(
                "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305",
                false
            )
            .unwrap(),
            [
                "ECDHE-RSA-AES128-GCM-SHA256",
                "ECDHE-ECDSA-CHACHA20-POLY1305"
            ]
        );
        assert_eq!(names("HIGH:!aNULL:!MD5:!RC4", false).unwrap().len(), 6);
        assert_eq!(
            names("ECDHE+AESGCM:!ECDSA", false).unwrap(),
            ["ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384"]
        );
        assert_eq!(
            names("TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256", true).unwrap(),
            ["TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"]
        );
        assert_eq!(
            names("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", false).unwrap(),
            ["ECDHE-RSA-AES128-GCM-SHA256"]
        );
    }

    #[test]
    fn unknown_ciphers_are_refused_by_name() {
        let err = names("ECDHE-RSA-AES128-GCM-SHA256:DES-CBC3-SHA", false).unwrap_err();
        assert_eq!(err.to_string(), "invalid cipher (DES-CBC3-SHA)");
        assert!(names("RC4-MD5", false).is_err());
        // Another version's names pass quietly, as in OpenSSL.
        assert!(names("TLS_AES_128_GCM_SHA256", false).unwrap().is_empty());
    }

    #[test]
    fn parameters_are_checked_by_name() {
        let params = |f: fn(&mut Params)| {
            let mut p = Params {
                mode: "client".into(),
                ..Params::default()
            };
            f(&mut p);
            p.build().map(|_| ()).map_err(|e| e.to_string())
        };
        assert!(params(|_| {}).is_ok());
        assert_eq!(
            params(|p| p.mode = "both".into()).unwrap_err(),
            "invalid mode"
        );
        assert!(
            params(|p| p.protocol = Some("tlsv1".into()))
                .unwrap_err()
                .contains("(tlsv1)")
        );
        assert!(params(|p| p.options = vec!["no_sslv3".into(), "all".into()]).is_ok());
        assert_eq!(
            params(|p| p.options = vec!["no_frobnication".into()]).unwrap_err(),
            "invalid option (no_frobnication)"
        );
        assert_eq!(
            params(|p| p.verify = Some(vec!["maybe".into()])).unwrap_err(),
            "invalid verify option (maybe)"
        );
        assert_eq!(
            params(|p| {
                p.protocol = Some("tlsv1_2".into());
                p.ciphers = Some("!ALL".into());
            })
            .unwrap_err(),
            "no cipher suite left for the enabled protocols"
        );
        assert_eq!(
            params(|p| p.curves = Some("P-999".into())).unwrap_err(),
            "elliptic curve 'P-999' not supported"
        );
        assert!(
            params(|p| p.cafile = Some("/nonexistent.pem".into()))
                .unwrap_err()
                .starts_with("error loading certificate (/nonexistent.pem)")
        );
        let mut server = Params {
            mode: "server".into(),
            ..Params::default()
        };
        assert_eq!(
            server.build().unwrap_err().to_string(),
            "a server context needs a certificate and a key"
        );
        server.verify = Some(vec!["peer".into()]);
        assert!(server.build().is_err());
    }
}
