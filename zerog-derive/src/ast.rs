//! The model of the annotated struct: its name, its doc text, its `#[job]` settings, and
//! the serde attributes that bear on them.
//!
//! Only a non-generic struct with named fields can be a job: the struct is the job's
//! parameters and state, stored as a JSON object and deserialized by its type name.

use proc_macro2::TokenTree;
use quote::quote;
use syn::{Attribute, Data, DeriveInput, Expr, ExprLit, Fields, GenericParam, Ident, Lit, Meta};

use crate::attr;
use crate::ctxt::Ctxt;
use crate::symbol::{DENY_UNKNOWN_FIELDS, DOC, JOB, SERDE};
use crate::value;

/// The struct under `#[derive(Job)]`.
pub struct Container<'a> {
    pub ident: &'a Ident,
    pub attrs: attr::Job,
    /// The doc comment, as the default description.
    pub doc: String,
    /// Whether `#[serde(deny_unknown_fields)]` is set.
    pub serde_denies_unknown_fields: bool,
}

const NAMED_FIELDS_ONLY: &str = "#[derive(Job)] only supports structs with named fields";

impl<'a> Container<'a> {
    /// Models `input`, recording into `cx` why it cannot be a job type, if it cannot.
    pub fn from_ast(cx: &Ctxt, input: &'a DeriveInput) -> Self {
        let ident = &input.ident;
        check_shape(cx, input);
        check_generics(cx, input);
        Container {
            ident,
            attrs: attr::Job::from_ast(cx, ident, &input.attrs),
            doc: value::description_from_doc(doc_lines(&input.attrs).iter().map(String::as_str)),
            serde_denies_unknown_fields: serde_denies_unknown_fields(&input.attrs),
        }
    }

    /// The description: as written in `#[job]`, or else the doc comment.
    pub fn description(&self) -> &str {
        self.attrs.description.as_deref().unwrap_or(&self.doc)
    }
}

fn check_shape(cx: &Ctxt, input: &DeriveInput) {
    let ident = &input.ident;
    match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(fields) => {
                for field in &fields.named {
                    for attr in field.attrs.iter().filter(|a| a.path() == &JOB) {
                        cx.error_spanned_by(attr, "#[job(...)] goes on the struct, not on a field");
                    }
                }
            }
            Fields::Unnamed(fields) => cx.error_spanned_by(
                fields,
                format!("{NAMED_FIELDS_ONLY}; tuple structs are not supported"),
            ),
            Fields::Unit => {
                let struct_token = data.struct_token;
                let semi = data.semi_token;
                cx.error_spanned_by(
                    quote!(#struct_token #ident #semi),
                    format!(
                        "{NAMED_FIELDS_ONLY}; write `struct {ident} {{}}` for a job with no parameters"
                    ),
                );
            }
        },
        Data::Enum(data) => {
            let enum_token = data.enum_token;
            cx.error_spanned_by(
                quote!(#enum_token #ident),
                format!("{NAMED_FIELDS_ONLY}; enums are not supported"),
            );
        }
        Data::Union(data) => {
            let union_token = data.union_token;
            cx.error_spanned_by(
                quote!(#union_token #ident),
                format!("{NAMED_FIELDS_ONLY}; unions are not supported"),
            );
        }
    }
}

fn check_generics(cx: &Ctxt, input: &DeriveInput) {
    let generics = &input.generics;
    if generics.params.is_empty() {
        return;
    }
    let only_lifetimes = generics
        .params
        .iter()
        .all(|param| matches!(param, GenericParam::Lifetime(_)));
    let message = if only_lifetimes {
        "job types cannot be generic over lifetimes: a job is deserialized from stored JSON, \
         so it must own its data (`String` rather than `&str`)"
    } else {
        "job types cannot be generic: a job is stored and run by its type name, which must \
         stand for one concrete type"
    };
    cx.error_spanned_by(generics, message);
}

/// The text of each `#[doc = "..."]`, which is what `///` comments become.
fn doc_lines(attrs: &[Attribute]) -> Vec<String> {
    attrs
        .iter()
        .filter(|attr| attr.path() == &DOC)
        .filter_map(|attr| match &attr.meta {
            Meta::NameValue(doc) => match &doc.value {
                Expr::Lit(ExprLit {
                    lit: Lit::Str(text),
                    ..
                }) => Some(text.value()),
                // `#[doc = include_str!(...)]` cannot be read by a macro; it is left out.
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// Finds `deny_unknown_fields` among the top-level words of `#[serde(...)]`. Anything
/// else in serde's attributes is serde's business, so it is skimmed, not parsed.
fn serde_denies_unknown_fields(attrs: &[Attribute]) -> bool {
    attrs
        .iter()
        .filter(|attr| attr.path() == &SERDE)
        .filter_map(|attr| match &attr.meta {
            Meta::List(list) => Some(list.tokens.clone()),
            _ => None,
        })
        .flat_map(|tokens| tokens.into_iter())
        .any(|token| matches!(token, TokenTree::Ident(ident) if ident == DENY_UNKNOWN_FIELDS))
}
