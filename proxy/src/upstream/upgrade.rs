//! Protocol upgrades (WebSocket): once both sides switched, bytes flow both ways untouched.
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;

/// Waits for both upgraded connections and copies between them until either side closes.
pub(super) async fn splice(client: OnUpgrade, server: OnUpgrade) {
    let (client, server) = match tokio::try_join!(client, server) {
        Ok(pair) => pair,
        Err(error) => {
            tracing::debug!(%error, "protocol upgrade did not complete");
            return;
        }
    };
    let (mut client, mut server) = (TokioIo::new(client), TokioIo::new(server));
    if let Err(error) = tokio::io::copy_bidirectional(&mut client, &mut server).await {
        tracing::debug!(%error, "upgraded connection closed with an error");
    }
}
