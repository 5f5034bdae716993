//! The process's TLS crypto provider.
//!
//! rustls is linked with two providers: aws-lc (the AWS SDK's) and ring
//! (object_store's S3 client, through reqwest). With two, rustls cannot
//! choose one by itself and a TLS client or server built without naming
//! one panics. aws-lc is installed as the default once, before any TLS.

/// Makes aws-lc the process's default provider; later calls do nothing.
pub fn install() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}
