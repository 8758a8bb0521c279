//! A test CA and the certificates it issued (rcgen), for the TLS tests: a server
//! certificate for localhost/127.0.0.1/::1, one for another name, an expired one, one not
//! yet valid, and a client certificate.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SerialNumber, date_time_ymd,
};

use super::{lua, ok, scratch};

/// A test CA and certificates it issued, as PEM files in one directory.
pub struct Pki {
    dir: PathBuf,
}

impl Pki {
    /// The directory holding the files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn new(name: &str) -> Pki {
        let dir = scratch(name);
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::default();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "luasocket-wasi test CA");
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        std::fs::write(dir.join("ca.pem"), ca.self_signed(&ca_key).unwrap().pem()).unwrap();
        let issuer = Issuer::new(ca, ca_key);
        let leaf = |file: &str, names: &[&str], from: (i32, u8), to: (i32, u8), client: bool| {
            let key = KeyPair::generate().unwrap();
            let mut params =
                CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                    .unwrap();
            params.distinguished_name = rcgen::DistinguishedName::new();
            params.distinguished_name.push(DnType::CommonName, names[0]);
            params
                .distinguished_name
                .push(DnType::OrganizationName, "luasocket-wasi tests");
            params.not_before = date_time_ymd(from.0, from.1, 1);
            params.not_after = date_time_ymd(to.0, to.1, 1);
            params.serial_number = Some(SerialNumber::from_slice(&[0x0b, 0xad, 0xf0, 0x0d]));
            params.extended_key_usages = vec![if client {
                ExtendedKeyUsagePurpose::ClientAuth
            } else {
                ExtendedKeyUsagePurpose::ServerAuth
            }];
            let cert = params.signed_by(&key, &issuer).unwrap();
            std::fs::write(dir.join(format!("{file}.pem")), cert.pem()).unwrap();
            std::fs::write(dir.join(format!("{file}.der")), cert.der()).unwrap();
            std::fs::write(dir.join(format!("{file}.key")), key.serialize_pem()).unwrap();
        };
        let valid = ((2025, 1), (2099, 1));
        leaf(
            "server",
            &["localhost", "127.0.0.1", "::1"],
            valid.0,
            valid.1,
            false,
        );
        leaf("other", &["other.example"], valid.0, valid.1, false);
        leaf(
            "expired",
            &["localhost", "127.0.0.1"],
            (2020, 1),
            (2021, 1),
            false,
        );
        leaf(
            "future",
            &["localhost", "127.0.0.1"],
            (2090, 1),
            (2091, 1),
            false,
        );
        leaf("client", &["lua-client"], valid.0, valid.1, true);
        Pki { dir }
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn path(&self, name: &str) -> String {
        self.file(name).display().to_string()
    }

    /// CLI options: loopback networking, and the PKI directory visible at /pki.
    pub fn options(&self) -> Vec<String> {
        vec![
            "--allow-net=127.0.0.1,localhost".into(),
            "--dir".into(),
            format!("{}::/pki", self.dir.display()),
        ]
    }

    pub fn run(&self, chunk: &str) -> String {
        let options = self.options();
        let options: Vec<&str> = options.iter().map(String::as_str).collect();
        ok(&lua(&options, chunk))
    }
}
