//! Reading X.509 certificates for scripts: the fields LuaSec's certificate objects expose
//! (subject, issuer, validity, serial, subjectAltName, public key), straight from the DER.
//! Verification is not done here (webpki does it); this only describes a certificate, so
//! it accepts anything shaped like one and never fails on odd contents, only on bad DER.

use std::net::{Ipv4Addr, Ipv6Addr};

/// A DER element: its tag and its contents.
type Element<'a> = (u8, &'a [u8]);

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const OID: u8 = 0x06;
const OCTET_STRING: u8 = 0x04;
const BIT_STRING: u8 = 0x03;
const BOOLEAN: u8 = 0x01;
const SET: u8 = 0x31;

/// A cursor over consecutive DER elements.
struct Der<'a>(&'a [u8]);

impl<'a> Der<'a> {
    fn next(&mut self) -> Option<Element<'a>> {
        let (&tag, rest) = self.0.split_first()?;
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            let len = rest[..n]
                .iter()
                .fold(0usize, |acc, &b| acc << 8 | usize::from(b));
            (len, &rest[n..])
        };
        if rest.len() < len {
            return None;
        }
        let (content, rest) = rest.split_at(len);
        self.0 = rest;
        Some((tag, content))
    }

    /// The next element, which must have `tag`.
    fn expect(&mut self, tag: u8) -> Option<&'a [u8]> {
        self.next().filter(|e| e.0 == tag).map(|e| e.1)
    }

    /// The next element if it has `tag`; otherwise nothing is consumed.
    fn optional(&mut self, tag: u8) -> Option<&'a [u8]> {
        let mut probe = Der(self.0);
        let (t, content) = probe.next()?;
        (t == tag).then(|| {
            self.0 = probe.0;
            content
        })
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One attribute of a distinguished name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameEntry {
    /// Dotted form, e.g. `2.5.4.3`.
    pub oid: String,
    /// OpenSSL's long name (`commonName`), or the dotted form for unknown attributes.
    pub name: String,
    /// The value as UTF-8 (what LuaSec's `setencode("utf8")` gives).
    pub value: String,
    /// The value's bytes as the certificate holds them (LuaSec's default, "ai5").
    pub raw: Vec<u8>,
}

/// What subjectAltName lists, by kind, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AltNames {
    pub dns: Vec<String>,
    pub ip: Vec<String>,
    pub email: Vec<String>,
    pub uri: Vec<String>,
}

/// The public key's algorithm and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    /// `RSA`, `EC`, `ED25519`, `ED448` or the algorithm's dotted OID.
    pub kind: String,
    pub bits: u32,
    /// The SubjectPublicKeyInfo, DER.
    pub der: Vec<u8>,
}

/// A parsed certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    pub der: Vec<u8>,
    pub serial: Vec<u8>,
    pub signature_algorithm: String,
    pub issuer: Vec<NameEntry>,
    pub subject: Vec<NameEntry>,
    /// Validity bounds, seconds since the Unix epoch.
    pub not_before: i64,
    pub not_after: i64,
    pub alt_names: Option<AltNames>,
    pub public_key: PublicKey,
    /// How names are given to scripts: UTF-8, or (LuaSec's default) as stored.
    pub utf8_names: bool,
}

impl Certificate {
    /// Parses a DER certificate; `None` if it is not one.
    pub fn parse(der: &[u8]) -> Option<Certificate> {
        let mut outer = Der(der);
        let cert = outer.expect(SEQUENCE)?;
        let mut cert = Der(cert);
        let mut tbs = Der(cert.expect(SEQUENCE)?);
        tbs.optional(0xa0); // version
        let serial = tbs.expect(INTEGER)?.to_vec();
        let signature_algorithm = algorithm_oid(tbs.expect(SEQUENCE)?)?;
        let issuer = name(tbs.expect(SEQUENCE)?)?;
        let mut validity = Der(tbs.expect(SEQUENCE)?);
        let not_before = time(validity.next()?)?;
        let not_after = time(validity.next()?)?;
        let subject = name(tbs.expect(SEQUENCE)?)?;
        let spki = tbs.next().filter(|e| e.0 == SEQUENCE)?;
        let public_key = public_key(spki.1)?;
        tbs.optional(0x81);
        tbs.optional(0x82);
        let alt_names = match tbs.optional(0xa3) {
            Some(exts) => subject_alt_names(exts)?,
            None => None,
        };
        Some(Certificate {
            der: der.to_vec(),
            serial,
            signature_algorithm: oid_name(&signature_algorithm),
            issuer,
            subject,
            not_before,
            not_after,
            alt_names,
            public_key,
            utf8_names: false,
        })
    }

    /// Its names with the values as scripts get them (see `utf8_names`).
    pub fn names(&self, which: &[NameEntry]) -> Vec<(String, String, Vec<u8>)> {
        which
            .iter()
            .map(|e| {
                let value = if self.utf8_names {
                    e.value.as_bytes()
                } else {
                    &e.raw
                };
                (e.oid.clone(), e.name.clone(), value.to_vec())
            })
            .collect()
    }

    /// The certificate in PEM.
    pub fn pem(&self) -> String {
        pem("CERTIFICATE", &self.der)
    }

    /// Hex of the DER's hash by OpenSSL's name for it (`sha1`, `sha256`, `sha384`,
    /// `sha512`); `None` for an algorithm there is not.
    pub fn digest(&self, algorithm: &[u8]) -> Option<String> {
        use ring::digest;
        let algorithm = match algorithm {
            b"sha1" => &digest::SHA1_FOR_LEGACY_USE_ONLY,
            b"sha256" => &digest::SHA256,
            b"sha384" => &digest::SHA384,
            b"sha512" => &digest::SHA512,
            _ => return None,
        };
        Some(hex(digest::digest(algorithm, &self.der).as_ref()))
    }

    /// Whether `unix` (seconds) is within the validity period, bounds included.
    pub fn valid_at(&self, unix: f64) -> bool {
        self.not_before as f64 <= unix && unix <= self.not_after as f64
    }

    /// Whether the certificate names itself as its issuer.
    pub fn self_issued(&self) -> bool {
        self.issuer == self.subject
    }

    /// The serial number in hex, as OpenSSL prints it (upper case, no leading zero bytes).
    pub fn serial_hex(&self) -> String {
        let start = self
            .serial
            .iter()
            .position(|&b| b != 0)
            .unwrap_or(self.serial.len());
        let digits = hex(&self.serial[start..]).to_uppercase();
        if digits.is_empty() {
            "00".into()
        } else {
            digits
        }
    }
}

/// Lower-case hex of `bytes`.
/// PEM armour around `der`: base64 in lines of 64 characters.
pub fn pem(label: &str, der: &[u8]) -> String {
    let encoded = crate::mime::base64(der).unwrap_or_default();
    let mut text = format!("-----BEGIN {label}-----\n");
    for line in encoded.chunks(64) {
        text.push_str(&String::from_utf8_lossy(line));
        text.push('\n');
    }
    text.push_str(&format!("-----END {label}-----\n"));
    text
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn algorithm_oid(content: &[u8]) -> Option<String> {
    oid_text(Der(content).expect(OID)?)
}

/// The dotted form of an OID's contents.
fn oid_text(content: &[u8]) -> Option<String> {
    let (&first, rest) = content.split_first()?;
    let mut parts = vec![u64::from(first / 40).min(2), 0];
    parts[1] = u64::from(first) - parts[0] * 40;
    let mut value: u64 = 0;
    for &b in rest {
        value = value.checked_mul(128)? | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            parts.push(value);
            value = 0;
        }
    }
    Some(
        parts
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join("."),
    )
}

/// OpenSSL's long names for the OIDs certificates commonly carry.
const OID_NAMES: &[(&str, &str)] = &[
    ("2.5.4.3", "commonName"),
    ("2.5.4.4", "surname"),
    ("2.5.4.5", "serialNumber"),
    ("2.5.4.6", "countryName"),
    ("2.5.4.7", "localityName"),
    ("2.5.4.8", "stateOrProvinceName"),
    ("2.5.4.9", "streetAddress"),
    ("2.5.4.10", "organizationName"),
    ("2.5.4.11", "organizationalUnitName"),
    ("2.5.4.12", "title"),
    ("2.5.4.17", "postalCode"),
    ("2.5.4.42", "givenName"),
    ("1.2.840.113549.1.9.1", "emailAddress"),
    ("0.9.2342.19200300.100.1.25", "domainComponent"),
    ("0.9.2342.19200300.100.1.1", "userId"),
    ("2.5.29.17", "subjectAltName"),
    ("1.2.840.113549.1.1.1", "rsaEncryption"),
    ("1.2.840.113549.1.1.5", "sha1WithRSAEncryption"),
    ("1.2.840.113549.1.1.11", "sha256WithRSAEncryption"),
    ("1.2.840.113549.1.1.12", "sha384WithRSAEncryption"),
    ("1.2.840.113549.1.1.13", "sha512WithRSAEncryption"),
    ("1.2.840.113549.1.1.10", "rsassaPss"),
    ("1.2.840.10045.4.3.2", "ecdsa-with-SHA256"),
    ("1.2.840.10045.4.3.3", "ecdsa-with-SHA384"),
    ("1.2.840.10045.4.3.4", "ecdsa-with-SHA512"),
    ("1.3.101.112", "ED25519"),
    ("1.3.101.113", "ED448"),
];

fn oid_name(oid: &str) -> String {
    OID_NAMES
        .iter()
        .find(|(o, _)| *o == oid)
        .map_or_else(|| oid.to_string(), |(_, n)| n.to_string())
}

/// A distinguished name, attribute by attribute in the order the certificate has them.
fn name(content: &[u8]) -> Option<Vec<NameEntry>> {
    let mut rdns = Der(content);
    let mut entries = Vec::new();
    while !rdns.is_empty() {
        let mut set = Der(rdns.expect(SET)?);
        while !set.is_empty() {
            let mut attribute = Der(set.expect(SEQUENCE)?);
            let oid = oid_text(attribute.expect(OID)?)?;
            let value = attribute.next()?;
            entries.push(NameEntry {
                name: oid_name(&oid),
                oid,
                raw: value.1.to_vec(),
                value: string_value(value),
            });
        }
    }
    Some(entries)
}

/// A directory string as UTF-8; other kinds of value as hex.
fn string_value((tag, content): Element) -> String {
    match tag {
        // UTF8String, PrintableString, T61String, IA5String, VisibleString, NumericString
        0x0c | 0x13 | 0x14 | 0x16 | 0x1a | 0x12 => String::from_utf8_lossy(content).into_owned(),
        // BMPString: UTF-16 big-endian.
        0x1e => char::decode_utf16(
            content
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]])),
        )
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect(),
        // UniversalString: UTF-32 big-endian.
        0x1c => content
            .chunks_exact(4)
            .map(|c| char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
            .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect(),
        _ => hex(content),
    }
}

/// UTCTime or GeneralizedTime (`Z` form, as RFC 5280 requires) to Unix seconds.
fn time((tag, content): Element) -> Option<i64> {
    let text = std::str::from_utf8(content).ok()?.strip_suffix('Z')?;
    let (year, rest) = match tag {
        0x17 => {
            let yy: i64 = text.get(..2)?.parse().ok()?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, text.get(2..)?)
        }
        0x18 => (text.get(..4)?.parse().ok()?, text.get(4..)?),
        _ => return None,
    };
    if rest.len() < 10 || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let field = |i: usize| rest[i..i + 2].parse::<i64>().ok();
    let (month, day) = (field(0)?, field(2)?);
    let (hour, minute, second) = (field(4)?, field(6)?, rest.get(8..10)?.parse::<i64>().ok()?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The calendar date of a day count since 1970-01-01: (year, month, day).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// A time as OpenSSL's `ASN1_TIME_print` writes it: `Jan  2 03:04:05 2026 GMT`.
pub fn openssl_time(unix: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, m, d) = civil_from_days(unix.div_euclid(86_400));
    let secs = unix.rem_euclid(86_400);
    format!(
        "{} {d:>2} {:02}:{:02}:{:02} {y} GMT",
        MONTHS[(m - 1) as usize],
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

fn public_key(spki: &[u8]) -> Option<PublicKey> {
    let mut der = Der(spki);
    let mut algorithm = Der(der.expect(SEQUENCE)?);
    let oid = oid_text(algorithm.expect(OID)?)?;
    let parameter = algorithm.optional(OID).and_then(oid_text);
    let key = der.expect(BIT_STRING)?.get(1..)?;
    let (kind, bits) = match oid.as_str() {
        "1.2.840.113549.1.1.1" => ("RSA".to_string(), rsa_bits(key)?),
        "1.2.840.10045.2.1" => {
            let bits = match parameter.as_deref() {
                Some("1.2.840.10045.3.1.7") => 256,
                Some("1.3.132.0.34") => 384,
                Some("1.3.132.0.35") => 521,
                _ => (key.len().saturating_sub(1) * 4) as u32,
            };
            ("EC".to_string(), bits)
        }
        "1.3.101.112" => ("ED25519".to_string(), 256),
        "1.3.101.113" => ("ED448".to_string(), 456),
        _ => (oid.clone(), (key.len() * 8) as u32),
    };
    // The whole SubjectPublicKeyInfo, header included, for PEM output.
    let header = spki_header(spki.len());
    let mut whole = header;
    whole.extend_from_slice(spki);
    Some(PublicKey {
        kind,
        bits,
        der: whole,
    })
}

/// A SEQUENCE header for `len` bytes of contents.
fn spki_header(len: usize) -> Vec<u8> {
    let mut header = vec![SEQUENCE];
    if len < 0x80 {
        header.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        header.push(0x80 | bytes.len() as u8);
        header.extend(bytes);
    }
    header
}

/// Bits in an RSA modulus (the key is `SEQUENCE { modulus INTEGER, exponent INTEGER }`).
fn rsa_bits(key: &[u8]) -> Option<u32> {
    let modulus = Der(Der(key).expect(SEQUENCE)?).expect(INTEGER)?;
    let start = modulus.iter().position(|&b| b != 0)?;
    let significant = &modulus[start..];
    Some(significant.len() as u32 * 8 - significant[0].leading_zeros())
}

/// The subjectAltName extension among `[3] Extensions`, if there is one.
fn subject_alt_names(explicit: &[u8]) -> Option<Option<AltNames>> {
    let mut extensions = Der(Der(explicit).expect(SEQUENCE)?);
    while !extensions.is_empty() {
        let mut extension = Der(extensions.expect(SEQUENCE)?);
        let oid = oid_text(extension.expect(OID)?)?;
        extension.optional(BOOLEAN);
        let value = extension.expect(OCTET_STRING)?;
        if oid == "2.5.29.17" {
            return Some(Some(general_names(value)?));
        }
    }
    Some(None)
}

fn general_names(value: &[u8]) -> Option<AltNames> {
    let mut names = Der(Der(value).expect(SEQUENCE)?);
    let mut alt = AltNames::default();
    while !names.is_empty() {
        let (tag, content) = names.next()?;
        let text = || String::from_utf8_lossy(content).into_owned();
        match tag {
            0x81 => alt.email.push(text()),
            0x82 => alt.dns.push(text()),
            0x86 => alt.uri.push(text()),
            0x87 => alt.ip.push(ip_text(content)),
            _ => {}
        }
    }
    Some(alt)
}

fn ip_text(bytes: &[u8]) -> String {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        Ipv4Addr::from(v4).to_string()
    } else if let Ok(v6) = <[u8; 16]>::try_from(bytes) {
        Ipv6Addr::from(v6).to_string()
    } else {
        hex(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_through_the_calendar() {
        for days in [-1000, 0, 59, 365, 11_016, 20_000, 50_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(openssl_time(0), "Jan  1 00:00:00 1970 GMT");
        assert_eq!(openssl_time(1_767_323_045), "Jan  2 03:04:05 2026 GMT");
    }

    #[test]
    fn times_follow_rfc5280() {
        assert_eq!(time((0x17, b"700101000000Z")), Some(0));
        assert_eq!(time((0x17, b"491231235959Z")), Some(2_524_607_999));
        assert_eq!(time((0x18, b"20260102030405Z")), Some(1_767_323_045));
        assert_eq!(time((0x17, b"7001010000Z")), None);
        assert_eq!(time((0x17, b"701301000000Z")), None);
        assert_eq!(time((0x17, b"700101000000")), None);
    }

    #[test]
    fn oids_decode() {
        assert_eq!(oid_text(&[0x55, 0x04, 0x03]).as_deref(), Some("2.5.4.3"));
        assert_eq!(
            oid_text(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01]).as_deref(),
            Some("1.2.840.113549.1.9.1")
        );
    }

    #[test]
    fn bad_der_is_refused_not_trusted() {
        assert!(Certificate::parse(b"").is_none());
        assert!(Certificate::parse(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_none());
        assert!(Certificate::parse(&[0x30, 0x02, 0x30, 0x05]).is_none());
        // Every truncation of a real certificate must be refused, without panicking.
        let der = include_bytes!("testdata/cert.der");
        assert!(Certificate::parse(der).is_some());
        for n in 0..der.len() {
            assert!(Certificate::parse(&der[..n]).is_none());
        }
    }

    #[test]
    fn a_real_certificate_reads_as_openssl_shows_it() {
        let cert = Certificate::parse(include_bytes!("testdata/cert.der")).unwrap();
        let cn = cert
            .subject
            .iter()
            .find(|e| e.name == "commonName")
            .unwrap();
        assert_eq!(cn.oid, "2.5.4.3");
        assert_eq!(cn.value, "test.example");
        let alt = cert.alt_names.as_ref().unwrap();
        assert_eq!(alt.dns, ["test.example", "*.test.example"]);
        assert_eq!(alt.ip, ["127.0.0.1", "::1"]);
        assert_eq!(cert.public_key.kind, "EC");
        assert_eq!(cert.public_key.bits, 256);
        assert_eq!(cert.signature_algorithm, "ecdsa-with-SHA256");
        assert_eq!(cert.serial_hex(), "1234ABCD");
        assert_eq!(openssl_time(cert.not_before), "Nov 21 10:05:33 2026 GMT");
    }
}
