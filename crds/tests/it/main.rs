//! Integration tests of mesh-crds: the checked-in CRD files, their schemas, and the examples.

mod crd_files;
mod crd_schema;
mod examples;
mod helm_rbac;
mod schema_check;
