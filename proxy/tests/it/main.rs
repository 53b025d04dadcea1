//! mesh-proxy integration tests: one binary, one module per topic.
mod admin;
mod apply_scale;
mod certificates;
mod hot_swap;
mod parents;
mod protocols;
mod routing;
mod service_middlewares;
mod services;
mod startup;
mod strategies;
mod support;
mod tcp;
mod tls;
mod udp;
