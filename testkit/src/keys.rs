//! RSA signing keys for the test platform.

use std::fmt;
use std::sync::{Arc, OnceLock};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{DecodingKey, EncodingKey};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use serde_json::{json, Value};

/// Test-only private keys checked into `testkit/keys/`. They are public, so
/// they must never sign anything outside tests.
const FIXED_KEY_PEMS: [&str; 3] = [
    include_str!("../keys/test-only-rsa-1.pem"),
    include_str!("../keys/test-only-rsa-2.pem"),
    include_str!("../keys/test-only-rsa-3.pem"),
];

/// Number of fixed keys that [`TestKey::fixed`] accepts (numbered from 1).
pub const FIXED_KEY_COUNT: usize = FIXED_KEY_PEMS.len();

/// An RSA key pair with a key id (`kid`), usable for RS256 signing and as a JWK.
///
/// Cloning is cheap because clones share the key material.
#[derive(Clone)]
pub struct TestKey {
    inner: Arc<KeyMaterial>,
}

struct KeyMaterial {
    kid: String,
    private_pem: String,
    public_pem: String,
    modulus_b64: String,
    exponent_b64: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl TestKey {
    /// Returns fixed test key number `number` (1 to [`FIXED_KEY_COUNT`]), with
    /// kid `testkit-fixed-{number}`. Loading it takes no key generation.
    ///
    /// # Panics
    /// If `number` is out of range.
    pub fn fixed(number: usize) -> TestKey {
        static FIXED: OnceLock<Vec<TestKey>> = OnceLock::new();
        let keys = FIXED.get_or_init(|| {
            FIXED_KEY_PEMS
                .iter()
                .enumerate()
                .map(|(index, pem)| {
                    TestKey::from_pkcs8_pem(&format!("testkit-fixed-{}", index + 1), pem)
                        .expect("a fixed test key in testkit/keys/ is not a valid PKCS#8 RSA key")
                })
                .collect()
        });
        assert!(
            (1..=FIXED_KEY_COUNT).contains(&number),
            "fixed test key {number} does not exist: use a number from 1 to {FIXED_KEY_COUNT}"
        );
        keys[number - 1].clone()
    }

    /// Generates a fresh RSA 2048 key with kid `testkit-generated-{uuid}`.
    ///
    /// This takes from a fraction of a second to a few seconds, depending on
    /// the build profile, so prefer [`TestKey::fixed`] where any key will do.
    pub fn generate() -> TestKey {
        let private = RsaPrivateKey::new(&mut rand::thread_rng(), 2048)
            .expect("generating an RSA 2048 test key failed");
        let pem = private
            .to_pkcs8_pem(LineEnding::LF)
            .expect("encoding a generated RSA key as PKCS#8 PEM failed");
        let kid = format!("testkit-generated-{}", uuid::Uuid::new_v4());
        TestKey::from_pkcs8_pem(&kid, &pem)
            .expect("a freshly generated RSA key could not be loaded back")
    }

    /// Loads an RSA private key from PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    pub fn from_pkcs8_pem(kid: &str, pem: &str) -> anyhow::Result<TestKey> {
        let private = RsaPrivateKey::from_pkcs8_pem(pem)
            .map_err(|error| anyhow::anyhow!("invalid PKCS#8 RSA private key: {error}"))?;
        let public = private.to_public_key();
        let public_pem = public
            .to_public_key_pem(LineEnding::LF)
            .map_err(|error| anyhow::anyhow!("encoding the RSA public key failed: {error}"))?;
        let modulus_b64 = URL_SAFE_NO_PAD.encode(public.n().to_bytes_be());
        let exponent_b64 = URL_SAFE_NO_PAD.encode(public.e().to_bytes_be());
        let encoding = EncodingKey::from_rsa_pem(pem.as_bytes())?;
        let decoding = DecodingKey::from_rsa_components(&modulus_b64, &exponent_b64)?;

        Ok(TestKey {
            inner: Arc::new(KeyMaterial {
                kid: kid.to_owned(),
                private_pem: pem.to_owned(),
                public_pem,
                modulus_b64,
                exponent_b64,
                encoding,
                decoding,
            }),
        })
    }

    /// Returns the same key material under another kid.
    pub fn with_kid(&self, kid: &str) -> TestKey {
        let material = &self.inner;
        TestKey {
            inner: Arc::new(KeyMaterial {
                kid: kid.to_owned(),
                private_pem: material.private_pem.clone(),
                public_pem: material.public_pem.clone(),
                modulus_b64: material.modulus_b64.clone(),
                exponent_b64: material.exponent_b64.clone(),
                encoding: material.encoding.clone(),
                decoding: material.decoding.clone(),
            }),
        }
    }

    pub fn kid(&self) -> &str {
        &self.inner.kid
    }

    /// Private key in PKCS#8 PEM form.
    pub fn private_key_pem(&self) -> &str {
        &self.inner.private_pem
    }

    /// Public key in SubjectPublicKeyInfo PEM form (`-----BEGIN PUBLIC KEY-----`).
    pub fn public_key_pem(&self) -> &str {
        &self.inner.public_pem
    }

    /// Key for signing with `jsonwebtoken`.
    pub fn encoding_key(&self) -> &EncodingKey {
        &self.inner.encoding
    }

    /// Key for verifying RS256 signatures with `jsonwebtoken`.
    pub fn decoding_key(&self) -> &DecodingKey {
        &self.inner.decoding
    }

    /// Public key as a JWK (RFC 7517) with `use: sig` and `alg: RS256`.
    pub fn jwk(&self) -> Value {
        json!({
            "kty": "RSA",
            "kid": self.inner.kid,
            "use": "sig",
            "alg": "RS256",
            "n": self.inner.modulus_b64,
            "e": self.inner.exponent_b64,
        })
    }

    /// Tells whether both keys have the same key material, whatever their kids.
    pub fn same_material_as(&self, other: &TestKey) -> bool {
        self.inner.modulus_b64 == other.inner.modulus_b64
            && self.inner.exponent_b64 == other.inner.exponent_b64
    }
}

impl fmt::Debug for TestKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("TestKey")
            .field("kid", &self.inner.kid)
            .finish_non_exhaustive()
    }
}
