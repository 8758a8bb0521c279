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
use std::sync::atomic::{AtomicBool, Ordering};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};

use super::x509::Certificate;
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

/// LuaSec's `setverifyext` flags on a context, read at each verification.
#[derive(Debug, Default)]
pub struct VerifyExt {
    /// `lsec_continue`: a failed verification does not end the handshake.
    keep_going: AtomicBool,
    /// `lsec_ignore_purpose`: a certificate for another purpose is not a failure that
    /// ends the handshake (it is still reported).
    ignore_purpose: AtomicBool,
}

/// Why `setverifyext` refused a flag.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerifyExtError {
    #[error("invalid verify option ({0})")]
    Unknown(String),
    /// OpenSSL's CRL checks need CRLs, which contexts here cannot load.
    #[error("invalid verify option ({0}): CRLs are not supported")]
    Crl(String),
}

impl VerifyExt {
    /// Sets the flags named, clearing the others, as `setverifyext` does; on a bad name
    /// nothing changes.
    pub fn set(&self, flags: &[String]) -> Result<(), VerifyExtError> {
        let (mut keep_going, mut ignore_purpose) = (false, false);
        for flag in flags {
            match flag.as_str() {
                "lsec_continue" => keep_going = true,
                "lsec_ignore_purpose" => ignore_purpose = true,
                "crl_check" | "crl_check_chain" => return Err(VerifyExtError::Crl(flag.clone())),
                _ => return Err(VerifyExtError::Unknown(flag.clone())),
            }
        }
        self.keep_going.store(keep_going, Ordering::Relaxed);
        self.ignore_purpose.store(ignore_purpose, Ordering::Relaxed);
        Ok(())
    }

    /// Whether any flag is set: LuaSec then reports failures by chain depth.
    pub fn any(&self) -> bool {
        self.keep_going.load(Ordering::Relaxed) || self.ignore_purpose.load(Ordering::Relaxed)
    }

    /// Whether `error` ends the handshake of a verifier that enforces.
    fn fatal(&self, error: &rustls::Error) -> bool {
        let wrong_purpose = matches!(
            error,
            rustls::Error::InvalidCertificate(
                rustls::CertificateError::InvalidPurpose
                    | rustls::CertificateError::InvalidPurposeContext { .. }
            )
        );
        !(self.keep_going.load(Ordering::Relaxed)
            || wrong_purpose && self.ignore_purpose.load(Ordering::Relaxed))
    }
}

fn record<T>(
    result: Result<T, rustls::Error>,
    enforce: bool,
    ext: &VerifyExt,
    ok: T,
) -> Result<T, rustls::Error> {
    LAST.with(|l| l.set(Some(result.as_ref().map(|_| ()).map_err(TlsError::from))));
    match result {
        Err(e) if enforce && ext.fatal(&e) => Err(e),
        _ => Ok(ok),
    }
}

/// Checks servers' certificates (client side).
#[derive(Debug)]
pub struct ServerVerifier {
    pub inner: Arc<WebPkiServerVerifier>,
    /// Whether a failure aborts the handshake (`verify = "peer"`).
    pub enforce: bool,
    pub ext: Arc<VerifyExt>,
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
        record(
            result,
            self.enforce,
            &self.ext,
            ServerCertVerified::assertion(),
        )
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
    pub ext: Arc<VerifyExt>,
}

impl ClientVerifier {
    pub fn new(
        roots: Arc<rustls::RootCertStore>,
        mandatory: bool,
        ext: Arc<VerifyExt>,
    ) -> Result<Self, rustls::Error> {
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
        Ok(ClientVerifier { inner, ext })
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
        record(result, true, &self.ext, ClientCertVerified::assertion())
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

/// Whether `issuer` issued `subject`, through `intermediates` if need be, now: LuaSec's
/// `issued`, which runs OpenSSL's chain verification with `issuer` as the only root and
/// no purpose asked for. A certificate issued itself if it is that root, self-signed.
pub fn issued(
    issuer: &Certificate,
    subject: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    now: UnixTime,
) -> Verdict {
    if issuer.der == subject.as_ref() && issuer.self_issued() {
        // webpki will not take a CA as the end of a chain; OpenSSL finds it trusted if it
        // is within its dates.
        let now = now.as_secs() as f64;
        return if now < issuer.not_before as f64 {
            Err(TlsError::NotYetValid)
        } else if now > issuer.not_after as f64 {
            Err(TlsError::Expired)
        } else {
            Ok(())
        };
    }
    let issuer = CertificateDer::from(issuer.der.as_slice());
    let anchor = webpki::anchor_from_trusted_cert(&issuer).map_err(|_| TlsError::BadCertificate)?;
    let end = webpki::EndEntityCert::try_from(subject).map_err(|_| TlsError::BadCertificate)?;
    end.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &[anchor],
        intermediates,
        now,
        AnyPurpose,
        None,
        None,
    )
    .map(|_| ())
    .map_err(|e| webpki_error(&e))
}

/// OpenSSL checks no purpose unless asked to.
struct AnyPurpose;

impl webpki::ExtendedKeyUsageValidator for AnyPurpose {
    fn validate(&self, _: webpki::KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        Ok(())
    }
}

fn webpki_error(e: &webpki::Error) -> TlsError {
    use webpki::Error as E;
    match e {
        E::UnknownIssuer => TlsError::UnknownIssuer,
        E::CertExpired { .. } => TlsError::Expired,
        E::CertNotValidYet { .. } => TlsError::NotYetValid,
        E::InvalidSignatureForPublicKey
        | E::UnsupportedSignatureAlgorithmContext(_)
        | E::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => TlsError::BadSignature,
        E::RequiredEkuNotFoundContext(_) => TlsError::NotAuthorized,
        _ => TlsError::BadCertificate,
    }
}
