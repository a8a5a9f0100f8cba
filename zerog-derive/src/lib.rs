//! The `#[derive(Job)]` macro of zerog.
//!
//! Use it through the `zerog` crate, which re-exports it as `zerog::Job`: the code it
//! generates calls zerog's private API, so the two crates are released together.
//!
//! The derive works in stages, as serde's does: parse `#[job(...)]` (`attr`), model the
//! annotated struct (`ast`), check the rules that span several attributes (`check`), and
//! generate code (`expand`), or, when any stage reported an error, only the errors and a
//! stub impl (`dummy`). Both impls carry the same where clause (`bound`).

mod ast;
mod attr;
mod bound;
mod check;
mod ctxt;
mod dummy;
mod duration_grammar;
mod expand;
mod symbol;
mod value;

/// Implements `zerog::Job` for a struct with named fields, and registers the job type.
///
/// The struct must also derive `Serialize`, `Deserialize` (serde) and `JsonSchema`
/// (schemars), and implement `zerog::Run` by hand.
///
/// Keys of `#[job(...)]`:
///
/// - `type = "..."` (required): the job type, `[a-z][a-z0-9_]*`, not a route word such as
///   `job`, `progress` or `schema`;
/// - `queue = "..."`: the queue, same rule as the type; default: the type;
/// - `cost = N`: capacity units a job takes on a worker, at least 1; default 1;
/// - `max_attempts = N`: runs that may end in an error before the job fails, at least 1;
///   default 3;
/// - `timeout = "30s"`: how long one run may take; default: no limit. Durations are 1
///   to 9 digits and a unit, `ms`, `s`, `m`, `h` or `d`, as everywhere in zerog, and
///   here longer than zero;
/// - `retry_backoff = "exponential"` or `"fixed"`, and `retry_delay = "5s"`: the wait
///   before a retry; default: exponential from 5 seconds;
/// - `description = "..."`: default: the struct's doc comment;
/// - `name = "..."`: a human title; default: the type, so `waste_time` gives `Waste time`;
/// - `path = "a/b"`: the job's branch in the endpoint hierarchy; default: the root;
/// - `priority = N`: 0, the most urgent, to 9; default 5; a submit's `?priority=`
///   overrides it;
/// - `unique_for = "10m"`: within this window, a submit of the same parameters as a
///   job that has not failed or been cancelled makes no new job; default: off;
/// - `allow_unknown_fields`: accept parameters that the schema does not name.
///
/// Misuse is a compile error pointing at the mistake, and one compile reports every
/// mistake in `#[job(...)]`.
#[proc_macro_derive(Job, attributes(job))]
pub fn derive_job(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    expand::derive(&input).into()
}
