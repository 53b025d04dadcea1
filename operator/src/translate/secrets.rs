//! Reading Secrets referenced by Mesh objects (only ever by namespace/name; values never
//! end up in messages).

use std::collections::BTreeMap;

use mesh_crds::status::Reason;

use super::Context;
use super::backend::Problem;
use crate::snapshot::ObjectKey;

/// The data of Secret `namespace/name` (`data` merged with `stringData`, as the apiserver
/// would; manifests written by hand often use `stringData`).
pub(crate) fn secret_data(
    ctx: &Context<'_>,
    namespace: &str,
    name: &str,
    location: &str,
) -> Result<(BTreeMap<String, Vec<u8>>, String), Problem> {
    let key = ObjectKey::new(namespace, name);
    if !ctx.options.watches_namespace(namespace) {
        return Err(Problem::new(
            Reason::SecretNotFound,
            format!("{location}: Secret {key} is in namespace {namespace}, which is not watched"),
        ));
    }
    let Some(secret) = ctx.snapshot.secrets.get(&key) else {
        return Err(Problem::new(
            Reason::SecretNotFound,
            format!("{location}: Secret {key} not found"),
        ));
    };
    let mut data: BTreeMap<String, Vec<u8>> = secret
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.0.clone()))
        .collect();
    for (k, v) in secret.string_data.iter().flatten() {
        data.insert(k.clone(), v.clone().into_bytes());
    }
    Ok((data, secret.type_.clone().unwrap_or_default()))
}

/// The UTF-8 text of `data[key]`, if present and non-empty.
pub(crate) fn text(data: &BTreeMap<String, Vec<u8>>, key: &str) -> Option<String> {
    data.get(key)
        .and_then(|bytes| String::from_utf8(bytes.clone()).ok())
        .filter(|text| !text.trim().is_empty())
}

/// A CA bundle: `tls.ca`, else `ca.crt`, else (when allowed) the only key of the Secret.
pub(crate) fn ca_bundle(
    ctx: &Context<'_>,
    namespace: &str,
    name: &str,
    single_key_fallback: bool,
    location: &str,
) -> Result<String, Problem> {
    let (data, _) = secret_data(ctx, namespace, name, location)?;
    let found = text(&data, "tls.ca")
        .or_else(|| text(&data, "ca.crt"))
        .or_else(|| {
            if single_key_fallback && data.len() == 1 {
                data.keys().next().and_then(|key| text(&data, key))
            } else {
                None
            }
        });
    found.ok_or_else(|| {
        Problem::new(
            Reason::InvalidSecret,
            format!("{location}: Secret {namespace}/{name} has no CA under tls.ca or ca.crt"),
        )
    })
}

/// A certificate and key pair from `tls.crt` and `tls.key` (both non-empty).
pub(crate) fn key_pair(
    ctx: &Context<'_>,
    namespace: &str,
    name: &str,
    location: &str,
) -> Result<(String, String), Problem> {
    let (data, _) = secret_data(ctx, namespace, name, location)?;
    match (text(&data, "tls.crt"), text(&data, "tls.key")) {
        (Some(cert), Some(key)) => Ok((cert, key)),
        (cert, _) => {
            let missing = if cert.is_none() { "tls.crt" } else { "tls.key" };
            Err(Problem::new(
                Reason::InvalidSecret,
                format!("{location}: Secret {namespace}/{name} has no (or an empty) {missing}"),
            ))
        }
    }
}
