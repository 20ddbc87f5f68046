//! Value recognisers: each says whether one value has a kind of sensitive data's form, checked
//! as far as the form allows (check digits, registries, parsers), not by a bare pattern.

mod checksums;
pub mod contact;
pub mod credential;
pub mod financial;
pub mod geo;
pub mod national_id;
pub mod network;
pub mod temporal;
pub mod text_shape;
