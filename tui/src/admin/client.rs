//! One controller's admin API, over either transport: straight to `--admin-url`, or through
//! the apiserver's pod proxy (`/api/v1/namespaces/NS/pods/POD:PORT/proxy/...`). Both are a
//! `kube::Client` and a path prefix, so every request takes the same code path.

use std::time::Duration;

use serde::de::DeserializeOwned;

/// How long one admin request may take: a controller that hangs must not hang the command.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub(crate) struct AdminClient {
    /// What the user knows it by: the pod name, or the admin URL.
    pub name: String,
    client: kube::Client,
    /// Prepended to every admin path (`""` for a direct URL).
    prefix: String,
    /// Where requests go, for error messages.
    target: String,
}

impl AdminClient {
    /// Talks to the admin API at `url` directly (a local `mesh run`).
    pub fn direct(url: &str) -> Result<AdminClient, String> {
        let trimmed = url.trim_end_matches('/');
        let uri: http::Uri = trimmed
            .parse()
            .map_err(|err| format!("`{url}` is not a URL: {err}"))?;
        if uri.scheme().is_none() || uri.host().is_none() {
            return Err(format!("`{url}` is not a URL like http://127.0.0.1:9000"));
        }
        let mut config = kube::Config::new(uri);
        config.connect_timeout = Some(REQUEST_TIMEOUT);
        config.read_timeout = Some(REQUEST_TIMEOUT);
        let client = kube::Client::try_from(config)
            .map_err(|err| format!("cannot set up a client for {trimmed}: {err}"))?;
        Ok(AdminClient {
            name: trimmed.to_owned(),
            client,
            prefix: String::new(),
            target: trimmed.to_owned(),
        })
    }

    /// Talks to pod `namespace/pod` on `port` through the apiserver's pod proxy.
    pub fn pod_proxy(client: kube::Client, namespace: &str, pod: &str, port: u16) -> AdminClient {
        AdminClient {
            name: pod.to_owned(),
            client,
            prefix: format!("/api/v1/namespaces/{namespace}/pods/{pod}:{port}/proxy"),
            target: format!("pod {namespace}/{pod} port {port} (through the apiserver)"),
        }
    }

    /// GETs `path` (e.g. `/api/overview`) and decodes its JSON.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, String> {
        let full = format!("{}{path}", self.prefix);
        let request = http::Request::get(&full)
            .body(Vec::new())
            .map_err(|err| format!("{full}: {err}"))?;
        let answer = tokio::time::timeout(REQUEST_TIMEOUT, self.client.request_text(request))
            .await
            .map_err(|_| {
                format!(
                    "{} did not answer {path} within {REQUEST_TIMEOUT:?}",
                    self.target
                )
            })?
            .map_err(|err| {
                format!(
                    "cannot read {path} from {}: {}",
                    self.target,
                    describe(&err)
                )
            })?;
        serde_json::from_str(&answer)
            .map_err(|err| format!("{path} from {} is not what Mesh serves: {err}", self.target))
    }
}

/// kube's error text, with the cause chain (a refused connection is deep inside).
fn describe(error: &kube::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
