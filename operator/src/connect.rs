//! Reaching the apiserver: kubeconfig, in-cluster, or `--endpoint` + `--token`
//! (+ `--cert-auth-file-path`), as Traefik's provider options do.

use std::path::Path;

use anyhow::Context as _;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use secrecy::SecretString;

use crate::cli::ConnectionArgs;

/// The client configuration the flags describe.
pub async fn client_config(args: &ConnectionArgs) -> anyhow::Result<Config> {
    let options = KubeConfigOptions {
        context: args.context.clone(),
        ..KubeConfigOptions::default()
    };
    let mut config = if let Some(path) = &args.kubeconfig {
        let kubeconfig = Kubeconfig::read_from(path)
            .with_context(|| format!("cannot read kubeconfig {}", path.display()))?;
        Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .with_context(|| format!("kubeconfig {} is not usable", path.display()))?
    } else if let (Some(endpoint), Some(_)) = (&args.endpoint, &args.token) {
        Config::new(parse_endpoint(endpoint)?)
    } else {
        Config::infer().await.context(
            "no cluster configuration found: pass --kubeconfig, run in a pod, give \
             --endpoint and --token, or use --manifests DIR to run without a cluster",
        )?
    };
    if let Some(endpoint) = &args.endpoint {
        config.cluster_url = parse_endpoint(endpoint)?;
    }
    if let Some(token) = &args.token {
        if Path::new(token).is_file() {
            config.auth_info.token_file = Some(token.clone());
        } else {
            config.auth_info.token = Some(SecretString::from(token.clone()));
        }
    }
    if let Some(ca) = &args.cert_auth_file_path {
        let pem =
            std::fs::read(ca).with_context(|| format!("cannot read CA file {}", ca.display()))?;
        config.root_cert = Some(
            pem_certificates(&pem)
                .with_context(|| format!("CA file {} holds no PEM certificate", ca.display()))?,
        );
    }
    Ok(config)
}

/// A client for the flags.
pub async fn client(args: &ConnectionArgs) -> anyhow::Result<Client> {
    let config = client_config(args).await?;
    Client::try_from(config).context("cannot build the Kubernetes client")
}

fn parse_endpoint(endpoint: &str) -> anyhow::Result<http::Uri> {
    endpoint
        .parse()
        .with_context(|| format!("--endpoint `{endpoint}` is not a URL"))
}

/// The DER certificates of a PEM bundle.
fn pem_certificates(pem: &[u8]) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut certificates = Vec::new();
    for item in rustls_pemfile::certs(&mut &pem[..]) {
        certificates.push(item.context("malformed PEM")?.to_vec());
    }
    anyhow::ensure!(!certificates.is_empty(), "no certificate");
    Ok(certificates)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> ConnectionArgs {
        ConnectionArgs {
            kubeconfig: None,
            context: None,
            endpoint: Some("https://127.0.0.1:6443".into()),
            token: Some("secret-token".into()),
            cert_auth_file_path: None,
        }
    }

    #[tokio::test]
    async fn endpoint_and_token_need_no_kubeconfig() {
        let config = client_config(&args()).await.unwrap();
        assert_eq!(config.cluster_url.to_string(), "https://127.0.0.1:6443/");
        assert!(config.auth_info.token.is_some());
    }

    #[tokio::test]
    async fn a_token_path_is_read_as_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "abc").unwrap();
        let mut args = args();
        args.token = Some(path.display().to_string());
        let config = client_config(&args).await.unwrap();
        assert_eq!(
            config.auth_info.token_file,
            Some(path.display().to_string())
        );
    }

    #[tokio::test]
    async fn a_bad_ca_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.crt");
        std::fs::write(&path, "not a pem").unwrap();
        let mut args = args();
        args.cert_auth_file_path = Some(path);
        let error = client_config(&args).await.unwrap_err();
        assert!(
            format!("{error:#}").contains("holds no PEM certificate"),
            "{error:#}"
        );

        args.cert_auth_file_path = Some(dir.path().join("missing.crt"));
        let error = client_config(&args).await.unwrap_err();
        assert!(
            format!("{error:#}").contains("cannot read CA file"),
            "{error:#}"
        );
    }

    #[tokio::test]
    async fn a_missing_kubeconfig_names_the_file() {
        let mut args = args();
        args.kubeconfig = Some("/nonexistent/kubeconfig".into());
        let error = client_config(&args).await.unwrap_err();
        assert!(
            format!("{error:#}").contains("/nonexistent/kubeconfig"),
            "{error:#}"
        );
    }

    #[test]
    fn bad_endpoints_are_rejected() {
        assert!(parse_endpoint("https://[::1").is_err());
    }
}
