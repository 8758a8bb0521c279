//! Certificate verification that always runs and is always remembered.
//!
//! webpki checks every peer certificate, even under `verify = "none"`; that setting only
//! decides whether a failure ends the handshake. Either way the outcome is kept for
//! `getpeerverification()`. Verifiers are shared by every connection of a context, so the
//! outcome goes to a per-thread slot that the connection collects right after the call
//! that ran the verifier (the guest is single-threaded; handshakes may interleave, but a
//! verification never spans two calls).

use std::cell::Cell;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};

use super::session::tls_error;
use crate::net::error::TlsError;

/// What verifying the peer's certificate found.
pub type Verdict = Result<(), TlsError>;

thread_local! {
    static LAST: Cell<Option<Verdict>> = const { Cell::new(None) };
}

/// Takes the verdict of the verification run since the last call, if one ran.
pub fn take_verdict() -> Option<Verdict> {
    LAST.with(Cell::take)
}

fn record<T>(result: Result<T, rustls::Error>, enforce: bool, ok: T) -> Result<T, rustls::Error> {
    LAST.with(|l| l.set(Some(result.as_ref().map(|_| ()).map_err(tls_error))));
    match result {
        Err(e) if enforce => Err(e),
        _ => Ok(ok),
    }
}

/// Checks servers' certificates (client side).
#[derive(Debug)]
pub struct ServerVerifier {
    pub inner: Arc<WebPkiServerVerifier>,
    /// Whether a failure aborts the handshake (`verify = "peer"`).
    pub enforce: bool,
}

impl ServerCertVerifier for ServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let result = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        record(result, self.enforce, ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Checks clients' certificates (server side, `verify = "peer"`).
#[derive(Debug)]
pub struct ClientVerifier {
    pub inner: Arc<dyn ClientCertVerifier>,
}

impl ClientVerifier {
    pub fn new(roots: Arc<rustls::RootCertStore>, mandatory: bool) -> Result<Self, rustls::Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = WebPkiClientVerifier::builder_with_provider(roots, provider);
        let builder = if mandatory {
            builder
        } else {
            builder.allow_unauthenticated()
        };
        let inner = builder
            .build()
            .map_err(|e| rustls::Error::General(e.to_string()))?;
        Ok(ClientVerifier { inner })
    }
}

impl ClientCertVerifier for ClientVerifier {
    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let result = self
            .inner
            .verify_client_cert(end_entity, intermediates, now);
        record(result, true, ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
