//! The apiserver side: connecting with kubectl's flags, listing Mesh resources and
//! Ingresses, Events, access reviews, the controller pods and the status Lease.
//!
//! Every failure comes back as a [`CliError`] that names what was refused or unreachable
//! and hints at the fix (see [`errors`]).

mod access;
mod connect;
mod controllers;
mod errors;
mod events;
mod kinds;
mod resources;
mod watch;

#[allow(unused_imports)]
pub(crate) use access::{AccessCheck, can_i, service_account_user};
#[allow(unused_imports)]
pub(crate) use connect::{Cluster, Scope, connect};
#[allow(unused_imports)]
pub(crate) use controllers::{
    ControllerPod, LEASE_NAME, LeaseHolder, controller_pods, lease_holder,
};
#[allow(unused_imports)]
pub(crate) use errors::{Operation, api_error};
pub(crate) use events::events_for;
pub(crate) use kinds::ResourceKind;
#[allow(unused_imports)]
pub(crate) use resources::{get_resource, list_resources, to_chrono};
#[allow(unused_imports)]
pub(crate) use watch::{WatchUpdate, watch_resources};
