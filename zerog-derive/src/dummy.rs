//! The output of a derive that failed: the errors, and a stub `Job` impl.
//!
//! As in thiserror, the stub keeps the rest of the user's code compiling against the
//! type, so that the errors about `#[job(...)]` are the only ones shown, not followed by
//! "`WasteTime: Job` is not satisfied" wherever the type is used as a job.
//!
//! The stub carries the same where clause as the real impl, which makes rustc assume the
//! supertraits rather than check them at the impl: a struct that also lacks `impl Run`
//! or a serde derive gets no extra error from the stub itself, and hears about it once
//! the attributes are fixed. (A stub without the where clause would report the missing
//! `Run` right away, at the derive, in every such case.) Code that does use the type as
//! a job still needs the where clause to hold, so a second real mistake shows there.
//! Nothing is registered, so the stub never runs.

use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;

use crate::bound::job_bounds;

/// `errors`, plus a stub impl of `Job` for `input` when one can be written.
pub fn wrap(input: &DeriveInput, errors: syn::Error) -> TokenStream {
    let errors = errors.into_compile_error();
    // A generic type is itself the error; a stub for it would need bounds of its own and
    // would add errors (`'static`, unconstrained parameters) instead of hiding them.
    if !input.generics.params.is_empty() {
        return errors;
    }
    let ident = &input.ident;
    let bounds = job_bounds(ident);
    quote! {
        #errors

        const _: () = {
            impl ::zerog::__private::Job for #ident where #bounds {
                const SPEC: ::zerog::__private::JobSpec = ::zerog::__private::STUB_SPEC;

                fn schema() -> &'static ::zerog::__private::Value {
                    ::core::unimplemented!()
                }

                fn validator() -> &'static ::zerog::__private::Validator {
                    ::core::unimplemented!()
                }
            }
        };
    }
}
