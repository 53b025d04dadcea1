//! Middleware chains: what runs between a matched router and its service.
//!
//! Every middleware is compiled once per configuration ([`compile_chain`]); a request then
//! runs the chain's request phase in order (each step may rewrite the request or answer it
//! itself, e.g. a redirect) and the response phase in reverse order. The steps served today
//! are synchronous header/path rewrites, so a chain costs no allocation beyond the rewrite
//! itself and no future boxing.
mod headers;
mod path;
mod redirect;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use http::{Request, Response};

use crate::body::Body;
use crate::config::middleware::{Middleware, MiddlewareKind, MiddlewareKindError};

pub use headers::CustomHeaders;
pub use path::{AddPrefix, ReplacePath, ReplacePathRegex, StripPrefix, StripPrefixRegex};
pub use redirect::{RedirectRegex, RedirectScheme};

/// What a step knows about the connection the request came on.
#[derive(Debug, Clone, Copy)]
pub struct StepContext {
    /// The client connection is TLS: the request's scheme is `https`.
    pub tls: bool,
}

/// The outcome of a request phase.
pub enum Flow {
    /// Go on to the next step (or the service).
    Continue,
    /// Answer with this response; later steps and the service do not run.
    Respond(Response<Body>),
}

/// One compiled middleware.
#[derive(Debug)]
pub enum Step {
    AddPrefix(AddPrefix),
    StripPrefix(StripPrefix),
    StripPrefixRegex(StripPrefixRegex),
    ReplacePath(ReplacePath),
    ReplacePathRegex(ReplacePathRegex),
    Headers(CustomHeaders),
    RedirectScheme(RedirectScheme),
    RedirectRegex(RedirectRegex),
}

impl Step {
    fn on_request(&self, req: &mut Request<Body>, cx: StepContext) -> Flow {
        match self {
            Step::AddPrefix(step) => step.apply(req),
            Step::StripPrefix(step) => step.apply(req),
            Step::StripPrefixRegex(step) => step.apply(req),
            Step::ReplacePath(step) => step.apply(req),
            Step::ReplacePathRegex(step) => step.apply(req),
            Step::Headers(step) => step.apply_request(req),
            Step::RedirectScheme(step) => return step.apply(req, cx),
            Step::RedirectRegex(step) => return step.apply(req, cx),
        }
        Flow::Continue
    }

    fn on_response(&self, res: &mut Response<Body>) {
        if let Step::Headers(step) = self {
            step.apply_response(res);
        }
    }
}

/// The compiled middlewares of one router, in execution order (chains flattened).
#[derive(Debug, Clone, Default)]
pub struct MiddlewareChain {
    steps: Arc<[Arc<Step>]>,
}

impl MiddlewareChain {
    pub fn new(steps: Vec<Arc<Step>>) -> Self {
        MiddlewareChain {
            steps: steps.into(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Runs the request phase. On [`Flow::Respond`], the response phase of the steps that
    /// already ran has been applied to the returned response.
    pub fn on_request(&self, req: &mut Request<Body>, cx: StepContext) -> Flow {
        for (ran, step) in self.steps.iter().enumerate() {
            if let Flow::Respond(mut res) = step.on_request(req, cx) {
                for earlier in self.steps[..ran].iter().rev() {
                    earlier.on_response(&mut res);
                }
                return Flow::Respond(res);
            }
        }
        Flow::Continue
    }

    /// Runs the response phase, last step first.
    pub fn on_response(&self, res: &mut Response<Body>) {
        for step in self.steps.iter().rev() {
            step.on_response(res);
        }
    }
}

/// Why a middleware cannot be used; every router referencing it is disabled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MiddlewareError {
    #[error("middleware `{0}` does not exist")]
    NotFound(String),
    #[error("middleware `{name}`: {source}")]
    Kind {
        name: String,
        #[source]
        source: MiddlewareKindError,
    },
    #[error("middleware `{name}`: middleware type {kind} not supported yet")]
    Unsupported { name: String, kind: &'static str },
    #[error("middleware `{name}`: {message}")]
    Invalid { name: String, message: String },
    #[error("middleware `{name}`: recursion detected in chain {path}")]
    Recursion { name: String, path: String },
}

impl MiddlewareError {
    fn invalid(name: &str, message: impl Into<String>) -> Self {
        MiddlewareError::Invalid {
            name: name.to_owned(),
            message: message.into(),
        }
    }
}

/// Compiles middlewares on demand and remembers each result, so a middleware shared by many
/// routers is compiled once per apply.
pub struct ChainCompiler<'a> {
    config: &'a BTreeMap<String, Middleware>,
    compiled: HashMap<&'a str, Result<Vec<Arc<Step>>, MiddlewareError>>,
}

impl<'a> ChainCompiler<'a> {
    pub fn new(config: &'a BTreeMap<String, Middleware>) -> Self {
        ChainCompiler {
            config,
            compiled: HashMap::new(),
        }
    }

    /// The chain of a router's middleware list, or the first middleware that cannot be used.
    pub fn chain(&mut self, names: &[String]) -> Result<MiddlewareChain, MiddlewareError> {
        let mut steps = Vec::with_capacity(names.len());
        for name in names {
            steps.extend(self.middleware(name, &mut Vec::new())?);
        }
        Ok(MiddlewareChain::new(steps))
    }

    /// The outcome of compiling one middleware by name (for the admin API's middleware list).
    pub fn check(&mut self, name: &str) -> Result<(), MiddlewareError> {
        self.middleware(name, &mut Vec::new()).map(|_| ())
    }

    fn middleware(
        &mut self,
        name: &str,
        visiting: &mut Vec<String>,
    ) -> Result<Vec<Arc<Step>>, MiddlewareError> {
        if let Some(done) = self.compiled.get(name) {
            return done.clone();
        }
        let Some((key, middleware)) = self.config.get_key_value(name) else {
            return Err(MiddlewareError::NotFound(name.to_owned()));
        };
        if visiting.iter().any(|seen| seen == name) {
            let mut path = visiting.clone();
            path.push(name.to_owned());
            return Err(MiddlewareError::Recursion {
                name: name.to_owned(),
                path: path.join(" -> "),
            });
        }
        visiting.push(name.to_owned());
        let result = self.compile(name, middleware, visiting);
        visiting.pop();
        self.compiled.insert(key.as_str(), result.clone());
        result
    }

    fn compile(
        &mut self,
        name: &str,
        middleware: &Middleware,
        visiting: &mut Vec<String>,
    ) -> Result<Vec<Arc<Step>>, MiddlewareError> {
        let kind = middleware.kind().map_err(|source| MiddlewareError::Kind {
            name: name.to_owned(),
            source,
        })?;
        let step = match kind {
            MiddlewareKind::Chain(chain) => {
                let mut steps = Vec::with_capacity(chain.middlewares.len());
                for member in &chain.middlewares {
                    steps.extend(self.middleware(member, visiting).map_err(|err| match err {
                        MiddlewareError::Recursion { .. } => err,
                        other => MiddlewareError::invalid(name, format!("chain member: {other}")),
                    })?);
                }
                return Ok(steps);
            }
            MiddlewareKind::AddPrefix(cfg) => {
                Step::AddPrefix(AddPrefix::new(cfg).map_err(|m| MiddlewareError::invalid(name, m))?)
            }
            MiddlewareKind::StripPrefix(cfg) => Step::StripPrefix(StripPrefix::new(cfg)),
            MiddlewareKind::StripPrefixRegex(cfg) => Step::StripPrefixRegex(
                StripPrefixRegex::new(cfg).map_err(|m| MiddlewareError::invalid(name, m))?,
            ),
            MiddlewareKind::ReplacePath(cfg) => Step::ReplacePath(ReplacePath::new(cfg)),
            MiddlewareKind::ReplacePathRegex(cfg) => Step::ReplacePathRegex(
                ReplacePathRegex::new(cfg).map_err(|m| MiddlewareError::invalid(name, m))?,
            ),
            MiddlewareKind::Headers(cfg) => {
                if !cfg.only_custom_headers() {
                    return Err(MiddlewareError::invalid(
                        name,
                        "headers: only customRequestHeaders and customResponseHeaders are \
                         supported yet (CORS and security headers are not)",
                    ));
                }
                Step::Headers(
                    CustomHeaders::new(cfg).map_err(|m| MiddlewareError::invalid(name, m))?,
                )
            }
            MiddlewareKind::RedirectScheme(cfg) => Step::RedirectScheme(
                RedirectScheme::new(cfg).map_err(|m| MiddlewareError::invalid(name, m))?,
            ),
            MiddlewareKind::RedirectRegex(cfg) => Step::RedirectRegex(
                RedirectRegex::new(cfg).map_err(|m| MiddlewareError::invalid(name, m))?,
            ),
            _ => {
                return Err(MiddlewareError::Unsupported {
                    name: name.to_owned(),
                    kind: middleware.type_name().unwrap_or("unknown"),
                });
            }
        };
        Ok(vec![Arc::new(step)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::middleware::{self as cfg, Chain};

    fn middlewares(yaml: &str) -> BTreeMap<String, Middleware> {
        serde_yaml::from_str(yaml).unwrap()
    }

    fn request(uri: &str) -> Request<Body> {
        Request::get(uri)
            .header("host", "example.com")
            .body(crate::body::empty())
            .unwrap()
    }

    const CX: StepContext = StepContext { tls: false };

    #[test]
    fn chain_runs_steps_in_order_and_flattens_chains() {
        let config = middlewares(
            "
strip: {stripPrefix: {prefixes: [/api]}}
prefix: {addPrefix: {prefix: /v2}}
both: {chain: {middlewares: [strip, prefix]}}
",
        );
        let mut compiler = ChainCompiler::new(&config);
        let chain = compiler.chain(&["both".to_owned()]).unwrap();
        assert_eq!(chain.len(), 2);
        let mut req = request("/api/users?x=1");
        assert!(matches!(chain.on_request(&mut req, CX), Flow::Continue));
        assert_eq!(req.uri().to_string(), "/v2/users?x=1");
        // Reversed order gives a different result: order matters.
        let chain = compiler
            .chain(&["prefix".to_owned(), "strip".to_owned()])
            .unwrap();
        let mut req = request("/api/users");
        let _ = chain.on_request(&mut req, CX);
        assert_eq!(req.uri().path(), "/v2/api/users");
    }

    #[test]
    fn unknown_unsupported_and_multi_type_middlewares_are_errors() {
        let config = middlewares(
            "
auth: {basicAuth: {users: ['a:b']}}
two: {addPrefix: {prefix: /a}, replacePath: {path: /b}}
",
        );
        let mut compiler = ChainCompiler::new(&config);
        let err = compiler.chain(&["missing".to_owned()]).unwrap_err();
        assert_eq!(err.to_string(), "middleware `missing` does not exist");
        let err = compiler.chain(&["auth".to_owned()]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "middleware `auth`: middleware type basicAuth not supported yet"
        );
        let err = compiler.chain(&["two".to_owned()]).unwrap_err();
        assert!(
            err.to_string()
                .contains("multi-types middleware not supported"),
            "{err}"
        );
    }

    #[test]
    fn chain_recursion_is_detected() {
        let mut config = BTreeMap::new();
        for (name, next) in [("a", "b"), ("b", "a")] {
            config.insert(
                name.to_owned(),
                cfg::Middleware {
                    chain: Some(Chain {
                        middlewares: vec![next.to_owned()],
                    }),
                    ..cfg::Middleware::default()
                },
            );
        }
        let mut compiler = ChainCompiler::new(&config);
        let err = compiler.chain(&["a".to_owned()]).unwrap_err();
        assert!(matches!(err, MiddlewareError::Recursion { .. }), "{err}");
        assert!(err.to_string().contains("a -> b -> a"), "{err}");
    }

    #[test]
    fn a_redirect_answers_and_skips_the_rest() {
        let config = middlewares(
            "
hdr: {headers: {customResponseHeaders: {X-Seen: yes}}}
https: {redirectScheme: {scheme: https}}
prefix: {addPrefix: {prefix: /never}}
",
        );
        let mut compiler = ChainCompiler::new(&config);
        let chain = compiler
            .chain(&["hdr".to_owned(), "https".to_owned(), "prefix".to_owned()])
            .unwrap();
        let mut req = request("/a");
        let Flow::Respond(res) = chain.on_request(&mut req, CX) else {
            panic!("expected a redirect");
        };
        assert_eq!(res.status(), 302);
        assert_eq!(res.headers()["location"], "https://example.com/a");
        assert_eq!(
            res.headers()["x-seen"],
            "yes",
            "earlier steps' response phase ran"
        );
        assert_eq!(req.uri().path(), "/a", "later steps did not run");
    }

    #[test]
    fn headers_beyond_custom_ones_are_reported_not_ignored() {
        let config = middlewares("sec: {headers: {frameDeny: true}}");
        let err = ChainCompiler::new(&config)
            .chain(&["sec".to_owned()])
            .unwrap_err();
        assert!(
            err.to_string().contains("only customRequestHeaders"),
            "{err}"
        );
    }
}
