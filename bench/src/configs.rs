//! One route set written for each target. Mesh reads Traefik's dynamic configuration form,
//! so Mesh and Traefik get the very same dynamic document; nginx gets one `server` block
//! per host, in the same order.
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::routes::RouteSet;

/// The dynamic configuration (Traefik file provider form, which Mesh reads as is): one
/// router per host, all on entry point `web`, all to the service `backend`.
pub fn dynamic_config_yaml(routes: &RouteSet) -> String {
    let mut out = String::with_capacity(routes.count * 96 + 256);
    out.push_str("http:\n  routers:\n");
    for (index, host) in routes.hosts() {
        let _ = write!(
            out,
            "    {name}:\n      rule: \"Host(`{host}`)\"\n      entryPoints: [web]\n      service: backend\n",
            name = routes.router_name(index),
        );
    }
    let _ = write!(
        out,
        "  services:\n    backend:\n      loadBalancer:\n        servers:\n          - url: \"{}\"\n",
        routes.backend_url()
    );
    out
}

/// Traefik's static configuration: one entry point, the file provider, nothing that phones
/// home, no access log, no API.
pub fn traefik_static_yaml(listen: SocketAddr, dynamic_file: &Path) -> String {
    format!(
        "global:\n  checkNewVersion: false\n  sendAnonymousUsage: false\n\
         entryPoints:\n  web:\n    address: \"{listen}\"\n    transport:\n      lifeCycle:\n        graceTimeOut: 1s\n\
         providers:\n  file:\n    filename: \"{}\"\n    watch: false\n\
         log:\n  level: ERROR\n",
        dynamic_file.display()
    )
}

/// The request headers nginx sets on the upstream leg. Mesh and Traefik pass the client's
/// Host and add these X-Forwarded-* and X-Real-Ip headers to every proxied request; nginx
/// does neither by default (it sends `Host: backend`), so without them it would do less
/// work per request than the proxies it is compared with.
const NGINX_FORWARDED_HEADERS: [(&str, &str); 7] = [
    ("Host", "$host"),
    ("X-Forwarded-For", "$proxy_add_x_forwarded_for"),
    ("X-Forwarded-Host", "$host"),
    ("X-Forwarded-Port", "$server_port"),
    ("X-Forwarded-Proto", "$scheme"),
    ("X-Forwarded-Server", "$hostname"),
    ("X-Real-Ip", "$remote_addr"),
];

/// nginx as a reverse proxy with one worker and pooled upstream connections (keep-alive on
/// both legs, as Mesh and Traefik do). `dir` holds the pid file, logs and temp paths.
pub fn nginx_conf(routes: &RouteSet, listen: SocketAddr, dir: &Path) -> String {
    let dir = dir.display();
    let mut out = String::with_capacity(routes.count * 160 + 1024);
    let _ = write!(
        out,
        "worker_processes 1;\n\
         daemon off;\n\
         pid {dir}/nginx.pid;\n\
         error_log {dir}/nginx-error.log warn;\n\
         events {{ worker_connections 4096; }}\n\
         http {{\n\
         \x20 access_log off;\n\
         \x20 # nginx closes a keep-alive connection after 1000 requests by default; the others\n\
         \x20 # do not, so the limit is lifted on both legs.\n\
         \x20 keepalive_requests 1000000;\n\
         \x20 server_names_hash_max_size {hash_max};\n\
         \x20 server_names_hash_bucket_size 128;\n\
         \x20 client_body_temp_path {dir}/client_body;\n\
         \x20 proxy_temp_path {dir}/proxy;\n\
         \x20 fastcgi_temp_path {dir}/fastcgi;\n\
         \x20 uwsgi_temp_path {dir}/uwsgi;\n\
         \x20 scgi_temp_path {dir}/scgi;\n\
         \x20 upstream backend {{\n\
         \x20   server {backend};\n\
         \x20   keepalive 64;\n\
         \x20   keepalive_requests 1000000;\n\
         \x20 }}\n",
        hash_max = (routes.count * 2).max(512),
        backend = routes.backend,
    );
    for (_, host) in routes.hosts() {
        let _ = write!(
            out,
            "  server {{\n    listen {listen};\n    server_name {host};\n    location / {{\n      \
             proxy_pass http://backend;\n      proxy_http_version 1.1;\n      \
             proxy_set_header Connection \"\";\n"
        );
        for (name, value) in NGINX_FORWARDED_HEADERS {
            let _ = writeln!(out, "      proxy_set_header {name} {value};");
        }
        out.push_str("    }\n  }\n");
    }
    out.push_str("}\n");
    out
}

/// Writes `text` to `dir/name`.
pub fn write(dir: &Path, name: &str, text: &str) -> std::io::Result<PathBuf> {
    let path = dir.join(name);
    std::fs::write(&path, text)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes(count: usize) -> RouteSet {
        RouteSet::new(count, "127.0.0.1:18080".parse().unwrap())
    }

    #[test]
    fn dynamic_config_is_read_by_mesh_with_every_router_in_order() {
        let routes = routes(3);
        let config = mesh_proxy::Config::from_yaml(&dynamic_config_yaml(&routes)).unwrap();
        let rules: Vec<(&String, &str)> = config
            .http
            .routers
            .iter()
            .map(|(name, r)| (name, r.rule.as_str()))
            .collect();
        assert_eq!(
            rules,
            vec![
                (&"r0".to_owned(), "Host(`h0.bench.test`)"),
                (&"r1".to_owned(), "Host(`h1.bench.test`)"),
                (&"r2".to_owned(), "Host(`h2.bench.test`)"),
            ]
        );
        assert!(config.http.routers.values().all(|r| r.service == "backend"));
        let balancer = config.http.services["backend"]
            .load_balancer
            .as_ref()
            .unwrap();
        let urls: Vec<&str> = balancer.servers.iter().map(|s| s.url.as_str()).collect();
        assert_eq!(urls, vec!["http://127.0.0.1:18080"]);
    }

    #[test]
    fn dynamic_config_at_scale_keeps_every_router() {
        let routes = routes(10_000);
        let config = mesh_proxy::Config::from_yaml(&dynamic_config_yaml(&routes)).unwrap();
        assert_eq!(config.http.routers.len(), 10_000);
        let last = config.http.routers.values().last().unwrap();
        assert_eq!(last.rule, format!("Host(`{}`)", routes.target_host()));
    }

    #[test]
    fn nginx_declares_one_server_per_host_with_pooled_upstream() {
        let conf = nginx_conf(
            &routes(3),
            "127.0.0.1:18081".parse().unwrap(),
            Path::new("/tmp/x"),
        );
        assert_eq!(conf.matches("server_name ").count(), 3);
        assert_eq!(conf.matches("listen 127.0.0.1:18081;").count(), 3);
        let last = conf.rfind("server_name ").unwrap();
        assert!(conf[last..].starts_with("server_name h2.bench.test;"));
        assert!(conf.contains("server 127.0.0.1:18080;"));
        assert!(conf.contains("keepalive 64;"));
        assert!(conf.contains("proxy_set_header Connection \"\";"));
        assert!(conf.contains("worker_processes 1;"));
        assert!(conf.contains("access_log off;"));
        assert!(conf.contains("pid /tmp/x/nginx.pid;"));
    }

    #[test]
    fn nginx_sends_the_same_forwarded_headers_as_mesh_in_every_server() {
        let conf = nginx_conf(
            &routes(2),
            "127.0.0.1:18081".parse().unwrap(),
            Path::new("/tmp/x"),
        );
        for line in [
            "proxy_set_header Host $host;",
            "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
            "proxy_set_header X-Forwarded-Host $host;",
            "proxy_set_header X-Forwarded-Port $server_port;",
            "proxy_set_header X-Forwarded-Proto $scheme;",
            "proxy_set_header X-Forwarded-Server $hostname;",
            "proxy_set_header X-Real-Ip $remote_addr;",
            "proxy_set_header Connection \"\";",
        ] {
            assert_eq!(conf.matches(line).count(), 2, "{line}");
        }
        // The headers sit inside each `location`, which closes before its `server` does.
        let location = conf.find("location / {").unwrap();
        let real_ip = conf.find("X-Real-Ip").unwrap();
        let end = conf[location..].find("}\n  }\n").unwrap() + location;
        assert!(location < real_ip && real_ip < end);
    }

    #[test]
    fn nginx_hash_grows_with_the_host_count() {
        let conf = nginx_conf(
            &routes(10_000),
            "127.0.0.1:1".parse().unwrap(),
            Path::new("/t"),
        );
        assert!(conf.contains("server_names_hash_max_size 20000;"));
    }

    #[test]
    fn traefik_static_config_points_at_the_dynamic_file_and_stays_offline() {
        let text = traefik_static_yaml("127.0.0.1:18082".parse().unwrap(), Path::new("/t/dyn.yml"));
        assert!(text.contains("address: \"127.0.0.1:18082\""));
        assert!(text.contains("filename: \"/t/dyn.yml\""));
        assert!(text.contains("checkNewVersion: false"));
        assert!(text.contains("sendAnonymousUsage: false"));
        assert!(!text.contains("accessLog"));
    }
}
