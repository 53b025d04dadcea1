//! Service-level middlewares: a compiled chain run in front of a service, so every router
//! (and every parent service) that uses the service goes through it.
use futures::FutureExt;
use futures::future::BoxFuture;
use http::{Request, Response};

use super::composite::Child;
use super::{HttpService, RequestContext};
use crate::body::Body;
use crate::middleware::{Flow, MiddlewareChain, StepContext};

pub(crate) struct WithMiddlewares {
    chain: MiddlewareChain,
    service: Child,
}

impl WithMiddlewares {
    /// `service` itself when the chain is empty: no extra hop on the request path.
    pub(crate) fn wrap(chain: MiddlewareChain, service: Child) -> Child {
        if chain.is_empty() {
            return service;
        }
        std::sync::Arc::new(WithMiddlewares { chain, service })
    }
}

impl HttpService for WithMiddlewares {
    fn call(
        &self,
        mut req: Request<Body>,
        cx: &RequestContext,
    ) -> BoxFuture<'static, Response<Body>> {
        match self.chain.on_request(&mut req, StepContext { tls: cx.tls }) {
            Flow::Respond(response) => futures::future::ready(response).boxed(),
            Flow::Continue => {
                let chain = self.chain.clone();
                let response = self.service.call(req, cx);
                async move {
                    let mut response = response.await;
                    chain.on_response(&mut response);
                    response
                }
                .boxed()
            }
        }
    }

    fn is_available(&self) -> bool {
        self.service.is_available()
    }
}
