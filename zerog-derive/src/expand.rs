//! Drives the stages and generates the `Job` impl and the registration.
//!
//! Everything generated sits in `const _: () = { ... };` and names the runtime only as
//! `::zerog::__private::...`, so it depends on nothing the user has in scope.

use std::time::Duration;

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::DeriveInput;
use syn::ext::IdentExt as _;

use crate::ast::Container;
use crate::attr::Backoff;
use crate::bound::job_bounds;
use crate::ctxt::Ctxt;
use crate::{check, dummy};

/// The output of `#[derive(Job)]` for `input`: the impl, or the errors and a stub.
pub fn derive(input: &DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let cont = Container::from_ast(&cx, input);
    check::check(&cx, &cont);
    match cx.check() {
        Ok(()) => impl_job(&cont),
        Err(errors) => dummy::wrap(input, errors),
    }
}

fn impl_job(cont: &Container) -> TokenStream {
    let ident = cont.ident;
    let attrs = &cont.attrs;
    let bounds = job_bounds(ident);
    let job_type = &attrs.job_type.value;
    let rust_type = ident.unraw().to_string();
    let queue = attrs.queue();
    let cost = attrs.cost;
    let max_attempts = attrs.max_attempts;
    let priority = attrs.priority;
    let timeout = match attrs.timeout {
        Some(timeout) => {
            let timeout = duration(timeout);
            quote!(::zerog::__private::Some(#timeout))
        }
        None => quote!(::zerog::__private::None),
    };
    let retry_delay = duration(attrs.retry_delay);
    let unique_for = match attrs.unique_for {
        Some(window) => {
            let window = duration(window);
            quote!(::zerog::__private::Some(#window))
        }
        None => quote!(::zerog::__private::None),
    };
    let retry_variant = match attrs.retry_backoff {
        Backoff::Exponential => quote!(Exponential),
        Backoff::Fixed => quote!(Fixed),
    };
    let description = cont.description();
    let name = attrs.name();
    let path = &attrs.path.value;
    let allow_unknown_fields = attrs.allow_unknown_fields.is_some();
    // Spanned at the struct's name, so that an unmet bound is reported there.
    let registration = quote_spanned!(ident.span()=> registration());

    quote! {
        const _: () = {
            impl ::zerog::__private::Job for #ident where #bounds {
                const SPEC: ::zerog::__private::JobSpec = ::zerog::__private::JobSpec {
                    job_type: #job_type,
                    rust_type: ::core::concat!(::core::module_path!(), "::", #rust_type),
                    queue: #queue,
                    cost: #cost,
                    max_attempts: #max_attempts,
                    priority: #priority,
                    timeout: #timeout,
                    retry: ::zerog::__private::RetryPolicy::#retry_variant {
                        delay: #retry_delay,
                    },
                    description: #description,
                    name: #name,
                    path: #path,
                    allow_unknown_fields: #allow_unknown_fields,
                    unique_for: #unique_for,
                };

                fn schema() -> &'static ::zerog::__private::Value {
                    static SCHEMA: ::zerog::__private::OnceLock<::zerog::__private::Value> =
                        ::zerog::__private::OnceLock::new();
                    SCHEMA.get_or_init(::zerog::__private::build_schema::<Self>)
                }

                fn validator() -> &'static ::zerog::__private::Validator {
                    static VALIDATOR: ::zerog::__private::OnceLock<::zerog::__private::Validator> =
                        ::zerog::__private::OnceLock::new();
                    VALIDATOR.get_or_init(::zerog::__private::build_validator::<Self>)
                }
            }

            const fn registration() -> ::zerog::__private::Registration where #bounds {
                ::zerog::__private::Registration::of::<#ident>()
            }

            ::zerog::__private::inventory::submit! { #registration }
        };
    }
}

/// `duration` as a constant expression of the runtime's `Duration`.
fn duration(duration: Duration) -> TokenStream {
    let secs = duration.as_secs();
    let nanos = duration.subsec_nanos();
    quote!(::zerog::__private::Duration::new(#secs, #nanos))
}
