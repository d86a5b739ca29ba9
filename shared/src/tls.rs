//! TLS: one rustls crypto provider (ring) for every HTTPS client in the process.

/// Installs ring as the process's rustls crypto provider. reqwest is built without a provider of
/// its own (aws-lc would nearly triple the Lambda zips), so call this before building a
/// `reqwest::Client`; calling it again is harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
