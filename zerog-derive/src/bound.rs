//! The where clause that every generated `Job` impl carries, the real one and the stub
//! alike.

use proc_macro2::TokenStream;
use quote::quote;
use syn::Ident;

/// What a job type needs besides `#[derive(Job)]`, as a where clause on the impl.
///
/// Written as `for<'__zerog> T: ...` so that rustc takes it as a where clause to assume
/// inside the impl rather than a trivially false bound to reject (rust-lang/rust#48214).
/// The impl itself then never fails to compile, and an unmet bound is reported once, at
/// the registration, through the on-unimplemented message of the trait that is missing
/// ("`WasteTime` must also derive `Serialize`") instead of as a generic supertrait error.
pub fn job_bounds(ident: &Ident) -> TokenStream {
    quote! {
        for<'__zerog> #ident: ::zerog::__private::AssertSerialize
            + ::zerog::__private::AssertDeserialize
            + ::zerog::__private::AssertJsonSchema
            + ::zerog::__private::Run
            + ::core::marker::Send
    }
}
