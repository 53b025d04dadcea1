//! The apiserver rejects invalid objects with the CRD schema's message.

use kube::api::{Api, DynamicObject, PostParams};
use serde_json::json;

use crate::api_error_code;
use crate::kinds::{self, GROUP, VERSION};

fn middleware(name: &str, prefix: &str) -> anyhow::Result<DynamicObject> {
    Ok(serde_json::from_value(json!({
        "apiVersion": format!("{GROUP}/{VERSION}"),
        "kind": "Middleware",
        "metadata": { "name": name },
        "spec": { "addPrefix": { "prefix": prefix } },
    }))?)
}

fn rejection_message(result: &Result<DynamicObject, kube::Error>) -> String {
    match result {
        Err(kube::Error::Api(status)) => status.message.clone(),
        other => format!("not an API rejection: {other:?}"),
    }
}

#[tokio::test]
async fn add_prefix_without_leading_slash_is_rejected() -> anyhow::Result<()> {
    let (_, client, namespace) = crate::admin_in_fresh_namespace().await?;
    let api: Api<DynamicObject> =
        Api::namespaced_with(client, &namespace, &kinds::middleware().api_resource());

    let rejected = api
        .create(&PostParams::default(), &middleware("bad-prefix", "api")?)
        .await;
    assert_eq!(api_error_code(&rejected), Some(422), "{rejected:?}");
    let message = rejection_message(&rejected);
    assert!(message.contains("spec.addPrefix"), "{message}");
    assert!(message.contains("must start with a '/'"), "{message}");

    // The same object with a leading slash is fine: the rejection was about the prefix.
    api.create(&PostParams::default(), &middleware("good-prefix", "/api")?)
        .await?;
    Ok(())
}

#[tokio::test]
async fn ingress_route_without_match_is_rejected() -> anyhow::Result<()> {
    let (_, client, namespace) = crate::admin_in_fresh_namespace().await?;
    let api: Api<DynamicObject> =
        Api::namespaced_with(client, &namespace, &kinds::ingress_route().api_resource());

    let mut without_match = kinds::sample_ingress_route("no-match");
    if let Some(route) = without_match["spec"]["routes"][0].as_object_mut() {
        route.remove("match");
    }
    let rejected = api
        .create(
            &PostParams::default(),
            &serde_json::from_value(without_match)?,
        )
        .await;
    assert_eq!(api_error_code(&rejected), Some(422), "{rejected:?}");
    let message = rejection_message(&rejected);
    assert!(message.contains("spec.routes[0].match"), "{message}");
    assert!(message.contains("Required value"), "{message}");

    api.create(
        &PostParams::default(),
        &serde_json::from_value(kinds::sample_ingress_route("with-match"))?,
    )
    .await?;
    Ok(())
}
