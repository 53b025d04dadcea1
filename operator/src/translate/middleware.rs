//! Middleware and MiddlewareTCP -> proxy middlewares (reference §3, §6.6).
//!
//! The CRD and the proxy configuration share Traefik's field names, so most middlewares
//! are carried over through serde; what needs the cluster (Secrets, Services, other
//! Middlewares) is resolved here. Any failure skips the whole Middleware: every route that
//! uses it then reports `MiddlewareNotFound` pointing at the Middleware's own status.

use std::collections::BTreeMap;

use base64::Engine as _;
use mesh_crds::status::Reason;
use mesh_crds::{MiddlewareSpec, MiddlewareTCPSpec, ObjectRef as SpecRef};
use mesh_proxy::config::Middleware;
use mesh_proxy::config::middleware::{BasicAuth, ForwardAuthTls};
use mesh_proxy::config::tcp::TcpMiddleware;
use mesh_proxy::config::tls::CertificatePair;
use ring::digest::{SHA1_FOR_LEGACY_USE_ONLY, digest};
use serde_json::{Map, Value};

use super::backend::Problem;
use super::load_balancer::{self, Staged, duration};
use super::names::object_id;
use super::{Context, refs, secrets};
use crate::secret_refs::SECRET_URN_PREFIX;
use crate::snapshot::{Entry, Object, ObjectKind, ObjectRef};

/// Secret type whose `username`/`password` keys make one basic-auth user.
const BASIC_AUTH_SECRET_TYPE: &str = "kubernetes.io/basic-auth";

pub(crate) fn translate_middlewares(ctx: &mut Context<'_>) {
    let snapshot = ctx.snapshot;
    // An `errors` page service may carry service-level middlewares, which must be built
    // before it: errors Middlewares go last.
    let is_errors = |entry: &Entry<MiddlewareSpec>| {
        entry
            .valid()
            .is_some_and(|middleware| middleware.spec.errors.is_some())
    };
    let (errors, others): (Vec<_>, Vec<_>) = snapshot
        .middlewares
        .iter()
        .partition(|(_, entry)| is_errors(entry));
    for (key, entry) in others.into_iter().chain(errors) {
        if !ctx.options.watches_namespace(&key.namespace) {
            continue;
        }
        let object = ObjectRef::new(ObjectKind::Middleware, key);
        let Some(middleware) = ctx.book.track_entry(&object, entry) else {
            continue;
        };
        let mut staged = Staged::default();
        match build_middleware(ctx, &mut staged, middleware) {
            Ok(built) => {
                for warning in staged.commit(ctx) {
                    ctx.book.degraded(&object, warning.reason, warning.message);
                }
                ctx.config
                    .http
                    .middlewares
                    .insert(object_id(&key.namespace, &key.name), built);
            }
            Err(problem) => ctx
                .book
                .object_problem(&object, problem.reason, problem.message),
        }
    }
}

pub(crate) fn translate_middleware_tcps(ctx: &mut Context<'_>) {
    let snapshot = ctx.snapshot;
    for (key, entry) in &snapshot.middleware_tcps {
        if !ctx.options.watches_namespace(&key.namespace) {
            continue;
        }
        let object = ObjectRef::new(ObjectKind::MiddlewareTcp, key);
        let Some(middleware) = ctx.book.track_entry(&object, entry) else {
            continue;
        };
        match build_tcp_middleware(&middleware.spec) {
            Ok(built) => {
                ctx.config
                    .tcp
                    .middlewares
                    .insert(object_id(&key.namespace, &key.name), built);
            }
            Err(problem) => ctx
                .book
                .object_problem(&object, problem.reason, problem.message),
        }
    }
}

/// A route's (or chain's) middleware reference: permitted, and the Middleware usable.
pub(crate) fn route_middleware(
    ctx: &Context<'_>,
    namespace: &str,
    reference: &SpecRef,
    location: &str,
) -> Result<String, Problem> {
    usable_middleware(
        ctx,
        namespace,
        reference,
        location,
        "Middleware",
        |id| ctx.config.http.middlewares.contains_key(id),
        |key| ctx.snapshot.middlewares.contains_key(key),
    )
}

/// A MiddlewareTCP reference, same rules as HTTP.
pub(crate) fn route_middleware_tcp(
    ctx: &Context<'_>,
    namespace: &str,
    reference: &SpecRef,
    location: &str,
) -> Result<String, Problem> {
    usable_middleware(
        ctx,
        namespace,
        reference,
        location,
        "MiddlewareTCP",
        |id| ctx.config.tcp.middlewares.contains_key(id),
        |key| ctx.snapshot.middleware_tcps.contains_key(key),
    )
}

/// The id of a referenced middleware of kind `what` when the reference is permitted and the
/// middleware was built (`built`); otherwise why not, told apart by whether it is stored.
fn usable_middleware(
    ctx: &Context<'_>,
    namespace: &str,
    reference: &SpecRef,
    location: &str,
    what: &str,
    built: impl Fn(&str) -> bool,
    stored: impl Fn(&crate::snapshot::ObjectKey) -> bool,
) -> Result<String, Problem> {
    let resolved = refs::resolve(
        ctx.options,
        namespace,
        &reference.name,
        reference.namespace.as_deref(),
        what,
        location,
    )?;
    if built(&resolved.id) {
        return Ok(resolved.id);
    }
    Err(missing(resolved, &reference.name, what, location, stored))
}

fn missing(
    resolved: refs::Resolved,
    written: &str,
    what: &str,
    location: &str,
    exists: impl Fn(&crate::snapshot::ObjectKey) -> bool,
) -> Problem {
    let message = match &resolved.key {
        Some(key) if exists(key) => {
            format!("{location}: {what} {key} is not usable (see its status)")
        }
        Some(key) => format!("{location}: {what} {key} not found"),
        None => format!("{location}: {what} {written} not found"),
    };
    Problem::new(Reason::MiddlewareNotFound, message)
}

fn build_middleware(
    ctx: &Context<'_>,
    staged: &mut Staged,
    middleware: &Object<MiddlewareSpec>,
) -> Result<Middleware, Problem> {
    let namespace = &middleware.meta.namespace;
    let spec = &middleware.spec;
    let id = object_id(namespace, &middleware.meta.name);
    let mut plain = serde_json::to_value(spec).map_err(|error| {
        Problem::new(Reason::InvalidSpec, format!("spec cannot be read: {error}"))
    })?;
    let fields = plain
        .as_object_mut()
        .ok_or_else(|| Problem::new(Reason::InvalidSpec, "spec is not an object"))?;
    let types: Vec<&String> = fields.keys().collect();
    match types.as_slice() {
        [] => {
            return Err(Problem::new(
                Reason::InvalidSpec,
                "no middleware type is set",
            ));
        }
        [_] => {}
        several => {
            let names = several
                .iter()
                .map(|name| name.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            return Err(Problem::new(
                Reason::InvalidSpec,
                format!("several middleware types are set ({names}); exactly one is allowed"),
            ));
        }
    }
    // Resolved by hand below; everything else is carried over as written.
    for key in ["basicAuth", "digestAuth", "chain", "errors", "plugin"] {
        fields.remove(key);
    }
    normalize_durations(fields)?;
    if let Some(forward) = fields.get_mut("forwardAuth").and_then(Value::as_object_mut) {
        forward.remove("tls");
    }
    if let Some(rate_limit) = fields.get_mut("rateLimit").and_then(Value::as_object_mut) {
        rate_limit.remove("redis");
    }
    let mut built: Middleware = serde_json::from_value(plain)
        .map_err(|error| Problem::new(Reason::UnsupportedValue, format!("{error}")))?;

    if let Some(basic) = &spec.basic_auth {
        let users = auth_users(
            ctx,
            namespace,
            basic.secret.as_deref(),
            true,
            "basicAuth.secret",
        )?;
        built.basic_auth = Some(BasicAuth {
            users,
            realm: basic.realm.clone(),
            remove_header: basic.remove_header,
            header_field: basic.header_field.clone().unwrap_or_default(),
        });
    }
    if let Some(digest_auth) = &spec.digest_auth {
        let users = auth_users(
            ctx,
            namespace,
            digest_auth.secret.as_deref(),
            false,
            "digestAuth.secret",
        )?;
        built.digest_auth = Some(BasicAuth {
            users,
            realm: digest_auth.realm.clone(),
            remove_header: digest_auth.remove_header,
            header_field: digest_auth.header_field.clone().unwrap_or_default(),
        });
    }
    if let Some(forward) = &spec.forward_auth {
        if forward.address.as_deref().unwrap_or_default().is_empty() {
            return Err(Problem::new(
                Reason::InvalidSpec,
                "forwardAuth.address is not set",
            ));
        }
        if let (Some(tls), Some(target)) = (&forward.tls, built.forward_auth.as_mut()) {
            target.tls = Some(client_tls(ctx, namespace, tls, "forwardAuth.tls")?);
        }
    }
    if let Some(rate_limit) = &spec.rate_limit
        && let (Some(redis), Some(target)) = (&rate_limit.redis, built.rate_limit.as_mut())
    {
        target.redis = Some(redis_config(ctx, namespace, redis)?);
    }
    if let Some(chain) = &spec.chain {
        let mut ids = Vec::with_capacity(chain.middlewares.len());
        for (i, reference) in chain.middlewares.iter().enumerate() {
            let location = format!("chain.middlewares[{i}]");
            let resolved = refs::resolve(
                ctx.options,
                namespace,
                &reference.name,
                reference.namespace.as_deref(),
                "Middleware",
                &location,
            )?;
            if resolved.id == id {
                return Err(Problem::new(
                    Reason::RecursionDetected,
                    format!("{location}: the chain includes itself"),
                ));
            }
            if let Some(key) = &resolved.key
                && ctx
                    .snapshot
                    .middlewares
                    .get(key)
                    .and_then(Entry::valid)
                    .is_none()
            {
                return Err(Problem::new(
                    Reason::MiddlewareNotFound,
                    format!("{location}: Middleware {key} not found"),
                ));
            }
            ids.push(resolved.id);
        }
        built.chain = Some(mesh_proxy::config::middleware::Chain { middlewares: ids });
    }
    if let Some(errors) = &spec.errors {
        let Some(service) = &errors.service else {
            return Err(Problem::new(
                Reason::InvalidSpec,
                "errors.service is not set",
            ));
        };
        let own_name = format!("{id}-errorpage-service");
        let name = load_balancer::service_name(
            ctx,
            staged,
            namespace,
            service,
            Some(&own_name),
            "errors.service",
        )?;
        built.errors = Some(mesh_proxy::config::middleware::ErrorPage {
            status: errors.status.clone(),
            status_rewrites: errors
                .status_rewrites
                .iter()
                .filter_map(|(from, to)| u16::try_from(*to).ok().map(|to| (from.clone(), to)))
                .collect(),
            service: name,
            query: errors.query.clone().unwrap_or_default(),
            error_request_headers: errors.error_request_headers.clone(),
        });
    }
    if let Some(plugin) = &spec.plugin {
        let mut resolved = BTreeMap::new();
        for (name, config) in plugin {
            let mut config = config.clone();
            replace_secret_urns(ctx, namespace, &mut config, &format!("plugin.{name}"))?;
            resolved.insert(name.clone(), config);
        }
        built.plugin = Some(resolved);
    }
    Ok(built)
}

/// Durations may be written as bare seconds in the CRD; the proxy reads Go strings. Each
/// is also validated so a bad one is reported on the Middleware (§6.6 M-*-DUR).
fn normalize_durations(fields: &mut Map<String, Value>) -> Result<(), Problem> {
    const DURATIONS: [(&str, &str); 6] = [
        ("rateLimit", "period"),
        ("circuitBreaker", "checkPeriod"),
        ("circuitBreaker", "fallbackDuration"),
        ("circuitBreaker", "recoveryDuration"),
        ("retry", "initialInterval"),
        ("retry", "timeout"),
    ];
    for (middleware, field) in DURATIONS {
        let Some(value) = fields.get_mut(middleware).and_then(|m| m.get_mut(field)) else {
            continue;
        };
        let written = match value {
            Value::Number(number) => number.as_i64().map(|secs| secs.to_string()),
            Value::String(text) => Some(text.clone()),
            _ => None,
        };
        let Some(written) = written else { continue };
        let parsed = mesh_proxy::config::transport::Duration::parse(&written).map_err(|error| {
            Problem::new(
                Reason::UnsupportedValue,
                format!("{middleware}.{field}: {error}"),
            )
        })?;
        *value = Value::String(parsed.to_string());
    }
    Ok(())
}

/// Users for basic/digest auth (§3.1): a `kubernetes.io/basic-auth` Secret gives one user
/// (basic only); any other Secret must hold exactly one key of `user:hash` lines.
fn auth_users(
    ctx: &Context<'_>,
    namespace: &str,
    secret: Option<&str>,
    basic: bool,
    location: &str,
) -> Result<Vec<String>, Problem> {
    let Some(secret) = secret.filter(|name| !name.is_empty()) else {
        return Err(Problem::new(
            Reason::InvalidSpec,
            format!("{location} is not set"),
        ));
    };
    let (data, secret_type) = secrets::secret_data(ctx, namespace, secret, location)?;
    if basic && secret_type == BASIC_AUTH_SECRET_TYPE {
        return match (
            secrets::text(&data, "username"),
            secrets::text(&data, "password"),
        ) {
            (Some(user), Some(password)) => {
                let hash = digest(&SHA1_FOR_LEGACY_USE_ONLY, password.as_bytes());
                let encoded = base64::engine::general_purpose::STANDARD.encode(hash.as_ref());
                Ok(vec![format!("{user}:{{SHA}}{encoded}")])
            }
            _ => Err(Problem::new(
                Reason::InvalidSecret,
                format!(
                    "{location}: Secret {namespace}/{secret} of type {BASIC_AUTH_SECRET_TYPE} needs username and password"
                ),
            )),
        };
    }
    if data.len() != 1 {
        return Err(Problem::new(
            Reason::InvalidSecret,
            format!(
                "{location}: Secret {namespace}/{secret} must hold exactly one key of user lines, found {}",
                data.len()
            ),
        ));
    }
    let users: Vec<String> = data
        .values()
        .flat_map(|bytes| {
            String::from_utf8_lossy(bytes)
                .lines()
                .map(str::trim)
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter(|line| !line.is_empty())
        .collect();
    if users.is_empty() {
        return Err(Problem::new(
            Reason::InvalidSecret,
            format!("{location}: Secret {namespace}/{secret} holds no user"),
        ));
    }
    Ok(users)
}

fn client_tls(
    ctx: &Context<'_>,
    namespace: &str,
    tls: &mesh_crds::common::ClientTls,
    location: &str,
) -> Result<ForwardAuthTls, Problem> {
    let ca = match tls.ca_secret.as_deref().filter(|name| !name.is_empty()) {
        Some(name) => {
            secrets::ca_bundle(ctx, namespace, name, true, &format!("{location}.caSecret"))?
        }
        None => String::new(),
    };
    let certificate = match tls.cert_secret.as_deref().filter(|name| !name.is_empty()) {
        Some(name) => {
            let (cert_file, key_file) =
                secrets::key_pair(ctx, namespace, name, &format!("{location}.certSecret"))?;
            Some(CertificatePair {
                cert_file,
                key_file,
                source: format!("Secret {namespace}/{name}"),
            })
        }
        None => None,
    };
    Ok(ForwardAuthTls {
        ca,
        certificate,
        insecure_skip_verify: tls.insecure_skip_verify,
    })
}

/// Redis settings of a distributed rate limit, credentials and TLS read from Secrets.
fn redis_config(
    ctx: &Context<'_>,
    namespace: &str,
    redis: &mesh_crds::middleware::Redis,
) -> Result<Value, Problem> {
    let mut config = Map::new();
    let endpoints = if redis.endpoints.is_empty() {
        vec!["localhost:6379".to_string()]
    } else {
        redis.endpoints.clone()
    };
    config.insert("endpoints".into(), Value::from(endpoints));
    if let Some(secret) = redis.secret.as_deref().filter(|name| !name.is_empty()) {
        let (data, _) = secrets::secret_data(ctx, namespace, secret, "rateLimit.redis.secret")?;
        match (
            secrets::text(&data, "username"),
            secrets::text(&data, "password"),
        ) {
            (Some(username), Some(password)) => {
                config.insert("username".into(), Value::from(username));
                config.insert("password".into(), Value::from(password));
            }
            _ => {
                return Err(Problem::new(
                    Reason::InvalidSecret,
                    format!(
                        "rateLimit.redis.secret: Secret {namespace}/{secret} needs username and password"
                    ),
                ));
            }
        }
    }
    if let Some(tls) = &redis.tls {
        let tls = client_tls(ctx, namespace, tls, "rateLimit.redis.tls")?;
        let mut tls_config = Map::new();
        tls_config.insert("ca".into(), Value::from(tls.ca));
        if let Some(pair) = tls.certificate {
            tls_config.insert("cert".into(), Value::from(pair.cert_file));
            tls_config.insert("key".into(), Value::from(pair.key_file));
        }
        tls_config.insert(
            "insecureSkipVerify".into(),
            Value::from(tls.insecure_skip_verify),
        );
        config.insert("tls".into(), Value::Object(tls_config));
    }
    for (field, value) in [
        ("db", redis.db),
        ("poolSize", redis.pool_size),
        ("minIdleConns", redis.min_idle_conns),
        ("maxActiveConns", redis.max_active_conns),
    ] {
        if let Some(value) = value {
            config.insert(field.into(), Value::from(value));
        }
    }
    for (field, value) in [
        ("readTimeout", &redis.read_timeout),
        ("writeTimeout", &redis.write_timeout),
        ("dialTimeout", &redis.dial_timeout),
    ] {
        let parsed = duration(value).map_err(|error| {
            Problem::new(
                Reason::UnsupportedValue,
                format!("rateLimit.redis.{field}: {error}"),
            )
        })?;
        config.insert(field.into(), Value::from(parsed.to_string()));
    }
    Ok(Value::Object(config))
}

/// Replaces every `urn:k8s:secret:<name>:<key>` string, however deep, by the Secret value.
fn replace_secret_urns(
    ctx: &Context<'_>,
    namespace: &str,
    value: &mut Value,
    location: &str,
) -> Result<(), Problem> {
    match value {
        Value::String(text) if text.starts_with(SECRET_URN_PREFIX) => {
            let parts: Vec<&str> = text.split(':').collect();
            let [_, _, _, name, key] = parts.as_slice() else {
                return Err(Problem::new(
                    Reason::InvalidSpec,
                    format!("{location}: {text:?} is not of the form urn:k8s:secret:<name>:<key>"),
                ));
            };
            let (data, _) = secrets::secret_data(ctx, namespace, name, location)?;
            let Some(secret_value) = data
                .get(*key)
                .map(|bytes| String::from_utf8_lossy(bytes).into_owned())
            else {
                return Err(Problem::new(
                    Reason::InvalidSecret,
                    format!("{location}: Secret {namespace}/{name} has no key {key}"),
                ));
            };
            *text = secret_value;
            Ok(())
        }
        Value::Array(items) => items
            .iter_mut()
            .try_for_each(|item| replace_secret_urns(ctx, namespace, item, location)),
        Value::Object(map) => map
            .values_mut()
            .try_for_each(|item| replace_secret_urns(ctx, namespace, item, location)),
        _ => Ok(()),
    }
}

fn build_tcp_middleware(spec: &MiddlewareTCPSpec) -> Result<TcpMiddleware, Problem> {
    let plain = serde_json::to_value(spec).map_err(|error| {
        Problem::new(Reason::InvalidSpec, format!("spec cannot be read: {error}"))
    })?;
    let count = plain.as_object().map_or(0, Map::len);
    if count != 1 {
        return Err(Problem::new(
            Reason::InvalidSpec,
            format!(
                "exactly one middleware type must be set (inFlightConn, ipAllowList, ipWhiteList), found {count}"
            ),
        ));
    }
    serde_json::from_value(plain)
        .map_err(|error| Problem::new(Reason::UnsupportedValue, error.to_string()))
}
