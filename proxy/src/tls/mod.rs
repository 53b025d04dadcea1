//! TLS termination for entry points: certificates chosen by SNI, TLS options chosen by the
//! routers' hosts, client authentication.
//!
//! Everything is compiled at apply time into a [`TlsGeneration`] that lives in the config
//! generation, so certificates and options are swapped atomically with the routers:
//!
//! - `store`: the certificate store (exact names, wildcards, the default certificate, or a
//!   generated "MESH DEFAULT CERT" when none is configured).
//! - `options`: one rustls `ServerConfig` per `tls.options.<name>` (versions, cipher
//!   suites, curves, ALPN, sniStrict, session tickets) and `client_auth` for `clientAuth`.
//! - `inspect`: the public facts of a certificate (names, validity, fingerprint) for
//!   `/api/certificates`.
//! - `sni`: per entry point, which option a server name gets (reference §7.2: every TLS
//!   router contributes `host -> option`; conflicting hosts fall back to `default`).
//! - `accept`: the handshake of a connection to HTTPS routers, with the option its SNI
//!   picked; `hello` reads the ClientHello without consuming it, so the bytes can still be
//!   replayed (to the handshake, or untouched to a TCP passthrough server).
mod accept;
mod client_auth;
mod error;
mod hello;
mod inspect;
mod options;
pub(crate) mod pem;
mod sni;
mod store;

pub(crate) use accept::misdirected;
pub use accept::{AcceptedConnection, ClientIo};
pub use error::TlsError;
pub use hello::{ClientHelloInfo, Rewind};
pub(crate) use hello::{TLS_HANDSHAKE_RECORD, read_client_hello};
pub use inspect::{CertificateFacts, inspect};
pub use sni::{TlsBuilder, TlsGeneration, TlsRouterHosts};
pub use store::{CertificateStore, GENERATED_DEFAULT_COMMON_NAME};

/// The option every TLS router without `tls.options` uses, and every unmatched server name.
pub const DEFAULT_OPTION: &str = "default";
