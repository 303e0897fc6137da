//! TLS for the driver, with rustls (the TLS the object-store backends use
//! already): libpq's `sslmode` checks as certificate verifiers, client
//! certificates, and `tls-server-end-point` channel binding for SCRAM.

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};
use postgres::Socket;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::SettingsError;

/// What the server's certificate is checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Roots {
    /// Nothing: the connection is encrypted, the server not authenticated
    /// (`require` or `prefer` with no root certificate file, as in libpq).
    None,
    /// The CA certificates of a file (`sslrootcert`).
    File(PathBuf),
    /// The system's trusted CAs (`sslrootcert=system`).
    System,
}

/// How the server is checked.
#[derive(Debug, Clone)]
pub struct Checks {
    /// The roots the chain must lead to.
    pub roots: Roots,
    /// Whether the certificate must name the host (`verify-full`).
    pub host_name: bool,
    /// A client certificate and its key.
    pub client: Option<(PathBuf, PathBuf)>,
    /// TLS 1.2 allowed (`ssl_min_protocol_version`), TLS 1.3 allowed
    /// (`ssl_max_protocol_version`).
    pub versions: (bool, bool),
    /// Send the host name in the handshake (`sslsni`).
    pub sni: bool,
}

/// The driver's TLS connector for one set of checks.
#[derive(Clone)]
pub struct MakeRustls {
    config: Arc<ClientConfig>,
}

impl std::fmt::Debug for MakeRustls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MakeRustls")
    }
}

impl MakeRustls {
    /// Builds the rustls configuration: reads the root and client
    /// certificate files now, so a bad file is an error before connecting.
    ///
    /// # Errors
    /// [`SettingsError::File`] naming the file and what is wrong with it.
    pub fn new(checks: &Checks) -> Result<Self, SettingsError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let verifier = Arc::new(Verifier::new(checks, &provider)?);
        let versions: Vec<&'static rustls::SupportedProtocolVersion> = [
            checks.versions.0.then_some(&rustls::version::TLS12),
            checks.versions.1.then_some(&rustls::version::TLS13),
        ]
        .into_iter()
        .flatten()
        .collect();
        let builder = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&versions)
            .map_err(|e| SettingsError::Tls { reason: e.to_string() })?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let mut config = match &checks.client {
            Some((cert, key)) => {
                let chain = read_certs(cert, "sslcert")?;
                let key = read_key(key)?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| file_error(cert, "sslcert", &format!("does not go with its key: {e}")))?
            }
            None => builder.with_no_client_auth(),
        };
        config.enable_sni = checks.sni;
        // PostgreSQL 17 servers check the protocol name when it is sent;
        // older ones ignore it.
        config.alpn_protocols = vec![b"postgresql".to_vec()];
        Ok(Self { config: Arc::new(config) })
    }
}

fn file_error(path: &Path, param: &'static str, reason: &str) -> SettingsError {
    SettingsError::File { param, path: path.to_path_buf(), reason: reason.to_string() }
}

fn read_certs(path: &Path, param: &'static str) -> Result<Vec<CertificateDer<'static>>, SettingsError> {
    if !path.is_file() {
        return Err(file_error(path, param, "does not exist"));
    }
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| file_error(path, param, &format!("is not a PEM certificate file: {e}")))?;
    if certs.is_empty() {
        return Err(file_error(path, param, "holds no PEM certificate"));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, SettingsError> {
    let meta = std::fs::metadata(path).map_err(|_| file_error(path, "sslkey", "does not exist"))?;
    #[cfg(unix)]
    {
        // libpq's rule: u=rw (0600) or less when the user owns it, u=rw,g=r
        // (0640) or less when root does.
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let mode = meta.permissions().mode();
        let allowed = if meta.uid() == 0 { 0o640 } else { 0o600 };
        if mode & 0o777 & !allowed != 0 {
            return Err(file_error(
                path,
                "sslkey",
                &format!("has permissions {:o}; it must be u=rw (0600) or less (0640 if owned by root)", mode & 0o777),
            ));
        }
    }
    let text = std::fs::read_to_string(path).map_err(|e| file_error(path, "sslkey", &e.to_string()))?;
    if text.contains("ENCRYPTED") {
        return Err(file_error(path, "sslkey", "is encrypted; pqstage needs an unencrypted key"));
    }
    PrivateKeyDer::from_pem_slice(text.as_bytes())
        .map_err(|e| file_error(path, "sslkey", &format!("holds no PEM private key: {e}")))
}

/// libpq's server checks: the chain to the roots (unless there are none),
/// and the host name only for `verify-full`.
#[derive(Debug)]
struct Verifier {
    chain: Option<Arc<WebPkiServerVerifier>>,
    /// The root certificates as given, to recognise a server certificate
    /// that is itself one of them.
    roots: Vec<CertificateDer<'static>>,
    host_name: bool,
    provider: Arc<CryptoProvider>,
}

impl Verifier {
    fn new(checks: &Checks, provider: &Arc<CryptoProvider>) -> Result<Self, SettingsError> {
        let mut store = RootCertStore::empty();
        let mut roots = Vec::new();
        match &checks.roots {
            Roots::None => {}
            Roots::File(path) => {
                // As OpenSSL does, entries that do not parse are skipped; a
                // file with no usable one is an error.
                roots = read_certs(path, "sslrootcert")?;
                let (added, _) = store.add_parsable_certificates(roots.iter().cloned());
                if added == 0 {
                    return Err(file_error(path, "sslrootcert", "holds no usable CA certificate"));
                }
            }
            Roots::System => {
                let found = rustls_native_certs::load_native_certs();
                let (added, _) = store.add_parsable_certificates(found.certs);
                if added == 0 {
                    return Err(SettingsError::Tls {
                        reason: "sslrootcert=system: the system has no trusted CA certificates".into(),
                    });
                }
            }
        }
        let chain = if checks.roots == Roots::None {
            None
        } else {
            let v = WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider.clone())
                .build()
                .map_err(|e| SettingsError::Tls { reason: e.to_string() })?;
            Some(v)
        };
        Ok(Self { chain, roots, host_name: checks.host_name, provider: provider.clone() })
    }

    /// `verify-full`'s name check, as libpq makes it: the certificate's DNS
    /// and IP names (webpki), or, when it has no DNS name, its subject's
    /// common name (`*.` matching one label).
    fn check_name(&self, end_entity: &CertificateDer<'_>, name: &ServerName<'_>) -> Result<(), rustls::Error> {
        if !self.host_name {
            return Ok(());
        }
        let parsed = rustls::server::ParsedCertificate::try_from(end_entity)?;
        match rustls::client::verify_server_name(&parsed, name) {
            Err(rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext {
                expected,
                presented,
            })) if !presented.iter().any(|p| p.starts_with("DnsName(")) => {
                let cn = common_name(end_entity);
                if cn.as_deref().is_some_and(|cn| name_matches(cn, &expected.to_str())) {
                    return Ok(());
                }
                let presented = presented.into_iter().chain(cn.map(|c| format!("DnsName(\"{c}\")"))).collect();
                Err(CertificateError::NotValidForNameContext { expected, presented }.into())
            }
            other => other,
        }
    }
}

/// A certificate name against the host: case-insensitive, a leading `*.`
/// standing for one label.
fn name_matches(pattern: &str, host: &str) -> bool {
    let (pattern, host) = (pattern.to_ascii_lowercase(), host.to_ascii_lowercase());
    match pattern.strip_prefix("*.") {
        Some(suffix) => host.split_once('.').is_some_and(|(label, rest)| !label.is_empty() && rest == suffix),
        None => pattern == host,
    }
}

/// The subject's common name (OID 2.5.4.3) of a DER certificate.
fn common_name(der: &[u8]) -> Option<String> {
    let (_, cert, _) = any_element(der)?;
    let (_, tbs, _) = any_element(cert)?;
    let (tag, _, after_version) = any_element(tbs)?;
    // [0] version, then serialNumber, signature, issuer, validity, subject.
    let mut rest = if tag == 0xa0 { after_version } else { tbs };
    for _ in 0..4 {
        rest = any_element(rest)?.2;
    }
    let (_, mut rdns, _) = any_element(rest)?;
    let mut cn = None;
    while !rdns.is_empty() {
        let (_, mut set, next) = any_element(rdns)?;
        rdns = next;
        while !set.is_empty() {
            let (_, pair, next) = any_element(set)?;
            set = next;
            let (oid, value) = element(pair, 0x06)?;
            if oid == [0x55, 0x04, 0x03] {
                cn = Some(String::from_utf8(any_element(value)?.1.to_vec()).ok()?);
            }
        }
    }
    cn
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        // A self-signed server certificate copied into the root file (the
        // recipe of PostgreSQL's documentation) is trusted as it is, as
        // OpenSSL trusts it; webpki would refuse it as a CA used as an
        // end entity.
        if self.roots.iter().any(|r| r.as_ref() == end_entity.as_ref()) {
            self.check_name(end_entity, server_name)?;
            return Ok(ServerCertVerified::assertion());
        }
        // webpki checks the chain first and the name last, so a name error
        // means the chain is good: `verify-ca` accepts it, and `verify-full`
        // looks at the common name as libpq does.
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => {
                self.check_name(end_entity, server_name)?;
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

impl MakeTlsConnect<Socket> for MakeRustls {
    type Stream = RustlsStream;
    type TlsConnect = RustlsConnect;
    type Error = io::Error;

    fn make_tls_connect(&mut self, domain: &str) -> Result<RustlsConnect, io::Error> {
        // A Unix socket has no host name; the server never offers TLS there,
        // so the name is only needed when a handshake starts.
        Ok(RustlsConnect { config: self.config.clone(), domain: domain.to_string() })
    }
}

/// One connection's TLS handshake.
pub struct RustlsConnect {
    config: Arc<ClientConfig>,
    domain: String,
}

impl TlsConnect<Socket> for RustlsConnect {
    type Stream = RustlsStream;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<RustlsStream>> + Send>>;

    fn connect(self, stream: Socket) -> Self::Future {
        Box::pin(async move {
            let name = ServerName::try_from(self.domain.clone()).map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("'{}' is not a host name TLS can check", self.domain),
                )
            })?;
            let tls = tokio_rustls::TlsConnector::from(self.config).connect(name, stream).await?;
            Ok(RustlsStream(Box::new(tls)))
        })
    }
}

/// A TLS connection to the server.
pub struct RustlsStream(Box<tokio_rustls::client::TlsStream<Socket>>);

impl AsyncRead for RustlsStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for RustlsStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }
}

impl TlsStream for RustlsStream {
    fn channel_binding(&self) -> ChannelBinding {
        let cert = self.0.get_ref().1.peer_certificates().and_then(|c| c.first());
        match cert.and_then(|c| end_point_hash(c)) {
            Some(hash) => ChannelBinding::tls_server_end_point(hash),
            None => ChannelBinding::none(),
        }
    }
}

/// RFC 5929's `tls-server-end-point`: the certificate hashed with the hash
/// of its signature algorithm, SHA-256 in place of MD5 and SHA-1. `None`
/// for algorithms the RFC leaves open (Ed25519, RSA-PSS).
pub fn end_point_hash(cert: &[u8]) -> Option<Vec<u8>> {
    use aws_lc_rs::digest::{digest, SHA256, SHA384, SHA512};
    let algorithm =
        match signature_oid(cert)? {
            // md5, sha1, sha256 WithRSAEncryption; ecdsa-with-SHA1, -SHA256
            [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x04 | 0x05 | 0x0b]
            | [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01]
            | [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02] => &SHA256,
            [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c]
            | [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03] => &SHA384,
            [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d]
            | [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04] => &SHA512,
            _ => return None,
        };
    Some(digest(algorithm, cert).as_ref().to_vec())
}

/// The OID of a DER certificate's `signatureAlgorithm`: Certificate ::=
/// SEQUENCE { tbsCertificate, signatureAlgorithm SEQUENCE { OID, … }, … }.
fn signature_oid(der: &[u8]) -> Option<&[u8]> {
    let (cert, _) = element(der, 0x30)?;
    let (_tbs, rest) = element(cert, 0x30)?;
    let (algorithm, _) = element(rest, 0x30)?;
    let (oid, _) = element(algorithm, 0x06)?;
    Some(oid)
}

/// One DER element of the given tag: its content and what follows it.
fn element(b: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (t, content, rest) = any_element(b)?;
    (t == tag).then_some((content, rest))
}

/// One DER element: its tag, its content and what follows it.
fn any_element(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *b.first()?;
    let first = *b.get(1)?;
    let (len, start) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let len = b.get(2..2 + n)?.iter().fold(0usize, |acc, &x| (acc << 8) | usize::from(x));
        (len, 2 + n)
    };
    let end = start.checked_add(len)?;
    Some((tag, b.get(start..end)?, b.get(end..)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A DER certificate skeleton: SEQUENCE { SEQUENCE {tbs}, SEQUENCE {OID} }.
    fn skeleton(oid: &[u8], tbs_len: usize) -> Vec<u8> {
        let tbs = [vec![0x30, 0x81, u8::try_from(tbs_len).unwrap()], vec![0u8; tbs_len]].concat();
        let alg =
            [vec![0x30, u8::try_from(oid.len() + 2).unwrap(), 0x06, u8::try_from(oid.len()).unwrap()], oid.to_vec()]
                .concat();
        let body = [tbs, alg].concat();
        [vec![0x30, 0x82, 0, u8::try_from(body.len()).unwrap()], body].concat()
    }

    #[test]
    fn the_end_point_hash_follows_the_signature_algorithm() {
        let sha256_rsa = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b];
        let sha1_rsa = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05];
        let ecdsa_384 = [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03];
        let ed25519 = [0x2b, 0x65, 0x70];
        assert_eq!(end_point_hash(&skeleton(&sha256_rsa, 200)).map(|h| h.len()), Some(32));
        assert_eq!(end_point_hash(&skeleton(&sha1_rsa, 10)).map(|h| h.len()), Some(32), "SHA-1 becomes SHA-256");
        assert_eq!(end_point_hash(&skeleton(&ecdsa_384, 10)).map(|h| h.len()), Some(48));
        assert_eq!(end_point_hash(&skeleton(&ed25519, 10)), None);
        let cert = skeleton(&sha256_rsa, 200);
        let expected = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &cert);
        assert_eq!(end_point_hash(&cert).unwrap(), expected.as_ref());
    }

    /// A self-signed certificate made by openssl as PostgreSQL's
    /// documentation shows (CA:TRUE, a common name, no subjectAltName unless
    /// `san` is given), written to `dir`; returns its PEM file.
    fn openssl_self_signed(dir: &Path, cn: &str, san: Option<&str>) -> PathBuf {
        let (crt, key) = (dir.join(format!("{cn}.crt")), dir.join(format!("{cn}.key")));
        let mut c = std::process::Command::new("openssl");
        c.args(["req", "-new", "-x509", "-days", "30", "-nodes", "-newkey", "ec"])
            .args(["-pkeyopt", "ec_paramgen_curve:prime256v1", "-subj", &format!("/CN={cn}")])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&crt);
        if let Some(san) = san {
            c.args(["-addext", &format!("subjectAltName={san}")]);
        }
        let out = c.output().expect("openssl runs (Debian package openssl)");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        crt
    }

    fn verify(root: &Path, host_name: bool, host: &str) -> Result<ServerCertVerified, rustls::Error> {
        let checks = Checks {
            roots: Roots::File(root.to_path_buf()),
            host_name,
            client: None,
            versions: (true, true),
            sni: true,
        };
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let v = Verifier::new(&checks, &provider).unwrap();
        let cert = read_certs(root, "sslrootcert").unwrap().remove(0);
        let name = ServerName::try_from(host.to_string()).unwrap();
        v.verify_server_cert(&cert, &[], &name, &[], UnixTime::now())
    }

    #[test]
    fn a_self_signed_certificate_in_the_root_file_is_trusted_and_its_common_name_checked() {
        let dir = tempfile::tempdir().unwrap();
        let cn_only = openssl_self_signed(dir.path(), "db.example.com", None);
        assert!(verify(&cn_only, true, "db.example.com").is_ok());
        assert!(verify(&cn_only, true, "DB.Example.COM").is_ok(), "names compare without case");
        let e = verify(&cn_only, true, "other.example.com").unwrap_err();
        assert!(
            matches!(e, rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext { .. })),
            "{e:?}"
        );
        assert!(verify(&cn_only, false, "other.example.com").is_ok(), "verify-ca ignores the name");
        // With a DNS subjectAltName, the common name no longer counts (libpq).
        let san = openssl_self_signed(dir.path(), "cn.example.com", Some("DNS:san.example.com"));
        assert!(verify(&san, true, "san.example.com").is_ok());
        assert!(verify(&san, true, "cn.example.com").is_err());
        let wildcard = openssl_self_signed(dir.path(), "*.db.example.com", None);
        assert!(verify(&wildcard, true, "eu.db.example.com").is_ok());
        assert!(verify(&wildcard, true, "db.example.com").is_err());
        assert!(verify(&wildcard, true, "a.eu.db.example.com").is_err(), "one label only");
    }

    #[test]
    fn truncated_der_is_no_hash_not_a_panic() {
        let cert = skeleton(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b], 50);
        for cut in 0..cert.len() {
            assert_eq!(end_point_hash(&cert[..cut]), None, "cut at {cut}");
            assert_eq!(common_name(&cert[..cut]), None, "cut at {cut}");
        }
    }
}
