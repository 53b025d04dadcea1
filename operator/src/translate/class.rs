//! Which route objects belong to this controller (reference §8.3).

use mesh_crds::status::Reason;

use super::Context;
use crate::snapshot::{Meta, ObjectRef};

/// The deprecated annotation naming an object's class.
pub(crate) const CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";

/// `spec.ingressClassName` when the field is present, else the annotation, else "".
pub(crate) fn effective<'a>(spec_class: Option<&'a str>, meta: &'a Meta) -> &'a str {
    spec_class
        .or_else(|| meta.annotations.get(CLASS_ANNOTATION).map(String::as_str))
        .unwrap_or_default()
}

/// True when the object is in a watched namespace and of a class this controller serves.
/// Objects of other classes are another controller's: they get no status at all.
pub(crate) fn owns(ctx: &Context<'_>, meta: &Meta, class: &str) -> bool {
    ctx.options.watches_namespace(&meta.namespace) && ctx.options.serves_class(class)
}

/// A route object whose spec does not decode. Its class cannot be read, so it is reported
/// whenever its namespace is watched: silence would hide the mistake.
pub(crate) fn track_invalid(
    ctx: &mut Context<'_>,
    object: &ObjectRef,
    generation: Option<i64>,
    error: &str,
) {
    if !ctx.options.watches_namespace(&object.namespace) {
        return;
    }
    ctx.book.track(object, generation, object.kind.has_routes());
    ctx.book.object_problem(
        object,
        Reason::InvalidSpec,
        format!("spec does not decode: {error}"),
    );
}
