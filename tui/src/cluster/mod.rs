//! The apiserver side: connecting with kubectl's flags, listing Mesh resources and
//! Ingresses, Events, access reviews.
