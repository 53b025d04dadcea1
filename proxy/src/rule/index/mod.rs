//! Router indexes: the answer of "first router in (priority desc, name asc) order whose
//! rule matches", at a cost that does not grow with the number of routers.
//!
//! At build time each rule is analysed for the set of hosts it can *only* match (e.g.
//! `Host(a) && Path(/x)` -> {a}; `Host(a) || Host(*.b)` -> {a, *.b}; `!Host(a)`,
//! `HostRegexp(..)`, `Path(/x)` -> unconstrained). Constrained rules go into hash buckets
//! keyed by exact host or wildcard suffix; the rest into one fallback list. Every list holds
//! positions in the global order, so a lookup merges the request host's exact bucket, its
//! wildcard bucket and the fallback list, and tests candidates in global order: the first
//! match is exactly the first match of a linear scan, having skipped only rules that could
//! not match this host.
use std::collections::HashMap;
use std::net::IpAddr;

use foldhash::fast::RandomState;

use super::host::{HostPattern, wildcard_suffix};
use super::http::{HttpMatcher, HttpRule};
use super::request::RequestView;
use super::syntax::Expr;
use super::tcp::{ConnectionView, TcpMatcher, TcpRule};

/// One router handed to an index.
#[derive(Debug, Clone)]
pub struct IndexEntry<T, R = HttpRule> {
    /// Router name: breaks priority ties (ascending).
    pub name: String,
    /// The compiled rule.
    pub rule: R,
    /// Effective priority: explicit, or the rule's default (see `HttpRule::priority`).
    pub priority: i64,
    /// What the lookup returns (e.g. the router's handler).
    pub value: T,
}

/// A TCP router handed to [`TcpRouterIndex`].
pub type TcpIndexEntry<T> = IndexEntry<T, TcpRule>;

/// HTTP routers of one entry point, compiled for lookup.
#[derive(Debug, Clone)]
pub struct HttpRouterIndex<T> {
    index: HostIndex<IndexEntry<T>>,
}

impl<T> HttpRouterIndex<T> {
    /// Orders the routers (priority descending, then name ascending) and indexes them.
    pub fn new(entries: Vec<IndexEntry<T>>) -> Self {
        Self {
            index: HostIndex::new(
                entries,
                |entry| {
                    host_constraint(entry.rule.expr(), &|matcher| match matcher {
                        HttpMatcher::Host(pattern) => Some(pattern),
                        _ => None,
                    })
                },
                // `Host(name)` alone: being in the bucket of the request's host is the match.
                |entry| {
                    matches!(
                        entry.rule.expr(),
                        Expr::Leaf {
                            matcher: HttpMatcher::Host(HostPattern::Exact(_)),
                            negated: false,
                        }
                    )
                },
            ),
        }
    }

    /// The value of the first router, in priority order, whose rule matches.
    pub fn lookup(&self, req: &RequestView<'_>) -> Option<&T> {
        self.lookup_entry(req).map(|entry| &entry.value)
    }

    /// Like [`lookup`](Self::lookup), returning the whole entry (name, rule, priority).
    pub fn lookup_entry(&self, req: &RequestView<'_>) -> Option<&IndexEntry<T>> {
        self.index
            .first_match(req.host_key(), |entry| entry.rule.matches(req))
    }

    /// The routers in lookup order.
    pub fn entries(&self) -> &[IndexEntry<T>] {
        &self.index.entries
    }

    pub fn len(&self) -> usize {
        self.index.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.entries.is_empty()
    }
}

/// TCP routers of one entry point, compiled for lookup by SNI.
#[derive(Debug, Clone)]
pub struct TcpRouterIndex<T> {
    index: HostIndex<TcpIndexEntry<T>>,
}

impl<T> TcpRouterIndex<T> {
    /// Orders the routers (priority descending, then name ascending) and indexes them.
    pub fn new(entries: Vec<TcpIndexEntry<T>>) -> Self {
        Self {
            index: HostIndex::new(
                entries,
                |entry| {
                    host_constraint(entry.rule.expr(), &|matcher| match matcher {
                        TcpMatcher::HostSni(pattern) => Some(pattern),
                        _ => None,
                    })
                },
                // TCP rules are always evaluated.
                |_| false,
            ),
        }
    }

    /// The value of the first router whose rule matches. `sni` is `None` for non-TLS
    /// connections or a ClientHello without SNI; `alpn` lists the offered protocols.
    pub fn lookup(&self, sni: Option<&str>, alpn: &[&[u8]], client_ip: IpAddr) -> Option<&T> {
        self.lookup_connection(&ConnectionView::new(sni, alpn, client_ip))
            .map(|entry| &entry.value)
    }

    /// Like [`lookup`](Self::lookup) for an already built view, returning the entry.
    pub fn lookup_connection(&self, conn: &ConnectionView<'_>) -> Option<&TcpIndexEntry<T>> {
        self.index
            .first_match(conn.server_name_key(), |entry| entry.rule.matches(conn))
    }

    /// The routers in lookup order.
    pub fn entries(&self) -> &[TcpIndexEntry<T>] {
        &self.index.entries
    }

    pub fn len(&self) -> usize {
        self.index.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.entries.is_empty()
    }
}

/// A host a rule is confined to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostKey<'r> {
    Exact(&'r str),
    /// The suffix of a `*.suffix` wildcard.
    Wildcard(&'r str),
}

/// The hosts a rule can only match, or `None` when it may match any host.
fn host_constraint<'r, M>(
    expr: &'r Expr<M>,
    host_of: &impl Fn(&'r M) -> Option<&'r HostPattern>,
) -> Option<Vec<HostKey<'r>>> {
    match expr {
        Expr::Leaf {
            matcher,
            negated: false,
        } => match host_of(matcher)? {
            HostPattern::Exact(name) => Some(vec![HostKey::Exact(name)]),
            HostPattern::Wildcard(suffix) => Some(vec![HostKey::Wildcard(suffix)]),
            HostPattern::Any => None,
        },
        Expr::Leaf { negated: true, .. } => None,
        // A conjunction is confined by any of its confined terms: take the narrowest.
        Expr::All(children) => children
            .iter()
            .filter_map(|child| host_constraint(child, host_of))
            .min_by_key(Vec::len),
        // A disjunction is confined only if every alternative is.
        Expr::Any(children) => {
            let mut keys = Vec::new();
            for child in children {
                for key in host_constraint(child, host_of)? {
                    if !keys.contains(&key) {
                        keys.push(key);
                    }
                }
            }
            Some(keys)
        }
    }
}

/// Host -> positions. foldhash rather than SipHash: every request hashes its host once,
/// and the keys come from the configuration, so a client cannot grow a bucket.
type HostBuckets<V> = HashMap<Box<str>, V, RandomState>;

/// The priority-ordered entries and the host buckets pointing into them.
#[derive(Debug, Clone)]
struct HostIndex<E> {
    entries: Vec<E>,
    exact: HostBuckets<Box<[u32]>>,
    wildcard: HostBuckets<Box<[u32]>>,
    fallback: Box<[u32]>,
    /// Per entry: whether finding it in the exact bucket of the request's host already
    /// proves its rule matches, so the rule is not evaluated.
    settled_by_exact_host: Box<[bool]>,
}

/// What ordering needs from an entry.
trait Ordered {
    fn priority(&self) -> i64;
    fn name(&self) -> &str;
}

impl<T, R> Ordered for IndexEntry<T, R> {
    fn priority(&self) -> i64 {
        self.priority
    }
    fn name(&self) -> &str {
        &self.name
    }
}

impl<E: Ordered> HostIndex<E> {
    fn new(
        mut entries: Vec<E>,
        constraint: impl for<'e> Fn(&'e E) -> Option<Vec<HostKey<'e>>>,
        settled_by_exact_host: impl Fn(&E) -> bool,
    ) -> Self {
        entries.sort_by(|a, b| {
            b.priority()
                .cmp(&a.priority())
                .then_with(|| a.name().cmp(b.name()))
        });
        let mut exact: HostBuckets<Vec<u32>> = HostBuckets::default();
        let mut wildcard: HostBuckets<Vec<u32>> = HostBuckets::default();
        let mut fallback = Vec::new();
        for (position, entry) in entries.iter().enumerate() {
            // More than u32::MAX routers cannot fit in memory anyway.
            let position = u32::try_from(position).unwrap_or(u32::MAX);
            match constraint(entry) {
                None => fallback.push(position),
                Some(keys) => {
                    for key in keys {
                        let (bucket, name) = match key {
                            HostKey::Exact(name) => (&mut exact, name),
                            HostKey::Wildcard(suffix) => (&mut wildcard, suffix),
                        };
                        bucket.entry(name.into()).or_default().push(position);
                    }
                }
            }
        }
        let freeze = |map: HostBuckets<Vec<u32>>| {
            map.into_iter()
                .map(|(key, positions)| (key, positions.into_boxed_slice()))
                .collect()
        };
        Self {
            exact: freeze(exact),
            wildcard: freeze(wildcard),
            fallback: fallback.into_boxed_slice(),
            settled_by_exact_host: entries.iter().map(settled_by_exact_host).collect(),
            entries,
        }
    }
}

impl<E> HostIndex<E> {
    /// Tests the candidates for `host_key` in global order; returns the first that passes.
    fn first_match(&self, host_key: &str, mut test: impl FnMut(&E) -> bool) -> Option<&E> {
        let none: &[u32] = &[];
        let exact = if host_key.is_empty() {
            none
        } else {
            self.exact.get(host_key).map_or(none, |positions| positions)
        };
        // Without wildcard routers, the host's suffix is not even looked for.
        let wildcard = if self.wildcard.is_empty() {
            none
        } else {
            wildcard_suffix(host_key)
                .and_then(|suffix| self.wildcard.get(suffix))
                .map_or(none, |positions| positions)
        };
        let lists = [exact, wildcard, &self.fallback[..]];
        let mut heads = [0usize; 3];
        loop {
            let next = lists
                .iter()
                .zip(heads)
                .filter_map(|(list, head)| list.get(head).copied())
                .min()?;
            let from_exact = exact.get(heads[0]) == Some(&next);
            // A rule listed under both the exact host and its wildcard is tested once.
            for (list, head) in lists.iter().zip(heads.iter_mut()) {
                if list.get(*head) == Some(&next) {
                    *head += 1;
                }
            }
            let position = usize::try_from(next).ok()?;
            let entry = self.entries.get(position)?;
            let settled = from_exact && self.settled_by_exact_host.get(position) == Some(&true);
            if settled || test(entry) {
                return Some(entry);
            }
        }
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod equivalence;
