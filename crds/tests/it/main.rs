//! Integration tests of mesh-crds: the checked-in CRD files, their schemas, and the examples.

mod crd_files;
mod crd_schema;
mod examples;
mod schema_check;
