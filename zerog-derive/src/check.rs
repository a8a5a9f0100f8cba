//! The rules that involve more than one attribute, or an attribute and the rest of
//! zerog: names that would clash with the HTTP routes, and settings that contradict
//! serde's.

use crate::ast::Container;
use crate::ctxt::Ctxt;
use crate::symbol::ALLOW_UNKNOWN_FIELDS;

/// Records every rule that `cont` breaks.
pub fn check(cx: &Ctxt, cont: &Container) {
    check_type_is_not_a_route(cx, cont);
    check_path_has_no_route(cx, cont);
    check_unknown_fields_agree_with_serde(cx, cont);
}

/// The first segments of the HTTP routes (SPEC §4), one a line. They sit in a text
/// file because a proc-macro crate can export no data: the tests crate reads the same
/// file and checks that it covers every route the runtime serves.
const ROUTE_WORDS: &str = include_str!("route_words.txt");

fn is_route_word(word: &str) -> bool {
    ROUTE_WORDS
        .lines()
        .map(str::trim)
        .any(|line| !line.is_empty() && line == word)
}

/// A job type is also a URL segment (`/{jobType}/post-schema` at the root), so a type
/// spelled like a route word would shadow that route.
fn check_type_is_not_a_route(cx: &Ctxt, cont: &Container) {
    let job_type = &cont.attrs.job_type;
    if is_route_word(&job_type.value) {
        cx.syn_error(syn::Error::new(
            job_type.span,
            format!(
                "job type `{0}` collides with the route `/{0}`; choose another name",
                job_type.value
            ),
        ));
    }
}

/// Branch segments come before route words in URLs (`/{path}/progress/{uuid}`), so a
/// segment spelled like one would make those URLs ambiguous.
fn check_path_has_no_route(cx: &Ctxt, cont: &Container) {
    let path = &cont.attrs.path;
    if path.value.is_empty() {
        return;
    }
    if let Some(word) = path.value.split('/').find(|segment| is_route_word(segment)) {
        cx.syn_error(syn::Error::new(
            path.span,
            format!(
                "path `{}` has the segment `{word}`, which collides with the route word `{word}`; choose another name",
                path.value
            ),
        ));
    }
}

/// The schema would let unknown fields through and serde would then reject them, so the
/// two settings together only move the error from a 400 with a path to a vaguer one.
fn check_unknown_fields_agree_with_serde(cx: &Ctxt, cont: &Container) {
    if let Some(allow) = cont.attrs.allow_unknown_fields
        && cont.serde_denies_unknown_fields
    {
        cx.syn_error(syn::Error::new(
            allow,
            format!(
                "`{ALLOW_UNKNOWN_FIELDS}` contradicts `#[serde(deny_unknown_fields)]`; keep one of them"
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_words_are_whole_lines_of_the_list() {
        for word in ["job", "jobs", "progress", "retry", "ui"] {
            assert!(is_route_word(word), "{word}");
        }
        for word in ["", "jo", "waste_time", "progress\n"] {
            assert!(!is_route_word(word), "{word:?}");
        }
    }
}
