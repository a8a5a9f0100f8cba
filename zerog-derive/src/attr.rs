//! Parsing `#[job(...)]`: every key, its value's type and its own rules.
//!
//! Several `#[job]` attributes on one struct are read as one list. A mistake in one key
//! is recorded and parsing goes on with the next, so that a single compile reports them
//! all.

use std::time::Duration;

use proc_macro2::{Delimiter, Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned as _;
use syn::{Attribute, Ident, Lit, LitStr, Meta, Token, token};

use crate::ctxt::Ctxt;
use crate::symbol::{
    ALLOW_UNKNOWN_FIELDS, COST, DESCRIPTION, EXPONENTIAL, FIXED, JOB, JOB_KEYS, MAX_ATTEMPTS, NAME,
    PATH, PRIORITY, QUEUE, RETRY_BACKOFF, RETRY_DELAY, Symbol, TIMEOUT, TYPE, UNIQUE_FOR,
};
use crate::value;

/// A value together with where the user wrote it, for the rules of `check.rs`.
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

/// How the delay before a retry grows.
pub enum Backoff {
    Exponential,
    Fixed,
}

/// The defaults of SPEC §2, for keys left out.
const DEFAULT_COST: u32 = 1;
const DEFAULT_MAX_ATTEMPTS: u32 = 3;
const DEFAULT_PRIORITY: u8 = 5;
/// The least urgent priority; 0 is the most.
const LOWEST_PRIORITY: u8 = 9;
const DEFAULT_RETRY_DELAY: Duration = Duration::from_secs(5);

/// What `#[job(...)]` says, each value already checked on its own.
///
/// After an error the fields keep their defaults (an empty job type, for one); that is
/// harmless because no code is generated while the `Ctxt` holds an error.
pub struct Job {
    pub job_type: Spanned<String>,
    queue: Option<String>,
    pub cost: u32,
    pub max_attempts: u32,
    pub priority: u8,
    pub timeout: Option<Duration>,
    pub retry_backoff: Backoff,
    pub retry_delay: Duration,
    pub unique_for: Option<Duration>,
    pub description: Option<String>,
    name: Option<String>,
    pub path: Spanned<String>,
    /// Where `allow_unknown_fields` was written, when it was.
    pub allow_unknown_fields: Option<Span>,
}

impl Job {
    /// Reads every `#[job]` attribute of the struct named `ident`.
    pub fn from_ast(cx: &Ctxt, ident: &Ident, attrs: &[Attribute]) -> Self {
        let mut parser = Parser {
            cx,
            seen: Vec::new(),
            job: Job {
                job_type: Spanned {
                    value: String::new(),
                    span: ident.span(),
                },
                queue: None,
                cost: DEFAULT_COST,
                max_attempts: DEFAULT_MAX_ATTEMPTS,
                priority: DEFAULT_PRIORITY,
                timeout: None,
                retry_backoff: Backoff::Exponential,
                retry_delay: DEFAULT_RETRY_DELAY,
                unique_for: None,
                description: None,
                name: None,
                path: Spanned {
                    value: String::new(),
                    span: Span::call_site(),
                },
                allow_unknown_fields: None,
            },
        };
        let job_attrs: Vec<&Attribute> = attrs.iter().filter(|a| a.path() == &JOB).collect();
        for attr in &job_attrs {
            // `#[job]` and `#[job = ...]` carry no key; the missing `type` below says
            // what to write instead.
            if let Meta::List(_) = attr.meta
                && let Err(error) = attr.parse_nested_meta(|meta| parser.key(&meta))
            {
                cx.syn_error(error);
            }
        }
        if !parser.seen.contains(&TYPE) {
            let message = "#[job(type = \"...\")] is required";
            match job_attrs.first() {
                Some(attr) => cx.error_spanned_by(attr, message),
                None => cx.error_spanned_by(ident, message),
            }
        }
        parser.job
    }

    /// The queue: as written, or else the job type.
    pub fn queue(&self) -> &str {
        self.queue.as_deref().unwrap_or(&self.job_type.value)
    }

    /// The human title: as written, or else derived from the job type.
    pub fn name(&self) -> String {
        match &self.name {
            Some(name) => name.clone(),
            None => value::title_from_type(&self.job_type.value),
        }
    }
}

/// What follows a key: nothing, a parenthesized list, or `= tokens`.
enum RawValue {
    Bare,
    Parens(TokenStream),
    Assigned(TokenStream),
}

impl RawValue {
    fn parse(meta: &ParseNestedMeta) -> syn::Result<Self> {
        if meta.input.peek(Token![=]) {
            // Taken as loose tokens rather than an expression, so that any value, even
            // `30s` or `-1`, gets a message about this key instead of a syntax error.
            let input = meta.value()?;
            let mut tokens = TokenStream::new();
            while !input.is_empty() && !input.peek(Token![,]) {
                tokens.extend([input.parse::<TokenTree>()?]);
            }
            Ok(RawValue::Assigned(tokens))
        } else if meta.input.peek(token::Paren) {
            Ok(RawValue::Parens(meta.input.parse::<TokenTree>()?.into()))
        } else {
            Ok(RawValue::Bare)
        }
    }

    /// The tokens an error about this value should span: the value, or else the key.
    fn span_tokens(&self, key: &syn::Path) -> TokenStream {
        match self {
            RawValue::Parens(tokens) => tokens.clone(),
            RawValue::Assigned(tokens) if !tokens.is_empty() => tokens.clone(),
            RawValue::Assigned(_) | RawValue::Bare => key.to_token_stream(),
        }
    }

    fn literal(&self) -> Option<Lit> {
        match self {
            RawValue::Assigned(tokens) => single_literal(tokens.clone()),
            RawValue::Bare | RawValue::Parens(_) => None,
        }
    }
}

fn single_literal(tokens: TokenStream) -> Option<Lit> {
    let mut tokens = tokens.into_iter();
    let token = tokens.next()?;
    if tokens.next().is_some() {
        return None;
    }
    match token {
        TokenTree::Literal(literal) => Some(Lit::new(literal)),
        // A `$value:literal` passed through `macro_rules!` arrives wrapped in a
        // delimiter-less group.
        TokenTree::Group(group) if group.delimiter() == Delimiter::None => {
            single_literal(group.stream())
        }
        _ => None,
    }
}

/// A valid example of each key, for the messages about a wrong value.
fn example(key: Symbol) -> &'static str {
    match key {
        TYPE => "type = \"send_email\"",
        QUEUE => "queue = \"emails\"",
        COST => "cost = 2",
        MAX_ATTEMPTS => "max_attempts = 5",
        PRIORITY => "priority = 0",
        TIMEOUT => "timeout = \"30s\"",
        RETRY_BACKOFF => "retry_backoff = \"fixed\"",
        RETRY_DELAY => "retry_delay = \"10s\"",
        DESCRIPTION => "description = \"Sends one email\"",
        NAME => "name = \"Send email\"",
        PATH => "path = \"reports/daily\"",
        UNIQUE_FOR => "unique_for = \"10m\"",
        _ => ALLOW_UNKNOWN_FIELDS.as_str(),
    }
}

struct Parser<'c> {
    cx: &'c Ctxt,
    seen: Vec<Symbol>,
    job: Job,
}

impl Parser<'_> {
    fn key(&mut self, meta: &ParseNestedMeta) -> syn::Result<()> {
        let value = RawValue::parse(meta)?;
        let path = &meta.path;
        let Some(key) = JOB_KEYS.into_iter().find(|key| path == key) else {
            let written = path.to_token_stream().to_string().replace(' ', "");
            let expected: Vec<String> = JOB_KEYS.iter().map(|key| format!("`{key}`")).collect();
            self.cx.error_spanned_by(
                path,
                format!(
                    "unknown job attribute `{written}`; expected one of {}",
                    expected.join(", ")
                ),
            );
            return Ok(());
        };
        if self.seen.contains(&key) {
            self.cx
                .error_spanned_by(path, format!("duplicate job attribute `{key}`"));
            return Ok(());
        }
        self.seen.push(key);
        let (cx, job) = (self.cx, &mut self.job);
        match key {
            TYPE => {
                if let Some(lit) = string(cx, key, path, &value)
                    && rule(
                        cx,
                        &lit,
                        value::check_name("job type", "send_email", &lit.value()),
                    )
                {
                    job.job_type = Spanned {
                        value: lit.value(),
                        span: lit.span(),
                    };
                }
            }
            QUEUE => {
                if let Some(lit) = string(cx, key, path, &value)
                    && rule(cx, &lit, value::check_name("queue", "emails", &lit.value()))
                {
                    job.queue = Some(lit.value());
                }
            }
            COST => job.cost = positive(cx, key, path, &value).unwrap_or(job.cost),
            MAX_ATTEMPTS => {
                job.max_attempts = positive(cx, key, path, &value).unwrap_or(job.max_attempts);
            }
            PRIORITY => job.priority = priority(cx, key, path, &value).unwrap_or(job.priority),
            TIMEOUT => job.timeout = duration(cx, key, path, &value),
            UNIQUE_FOR => job.unique_for = duration(cx, key, path, &value),
            RETRY_DELAY => {
                job.retry_delay = duration(cx, key, path, &value).unwrap_or(job.retry_delay);
            }
            RETRY_BACKOFF => {
                if let Some(lit) = string(cx, key, path, &value) {
                    match lit.value().as_str() {
                        EXPONENTIAL => job.retry_backoff = Backoff::Exponential,
                        FIXED => job.retry_backoff = Backoff::Fixed,
                        other => cx.error_spanned_by(
                            &lit,
                            format!("invalid retry_backoff `{other}`: expected \"{EXPONENTIAL}\" or \"{FIXED}\""),
                        ),
                    }
                }
            }
            DESCRIPTION => {
                if let Some(lit) = string(cx, key, path, &value) {
                    job.description = Some(lit.value());
                }
            }
            NAME => {
                if let Some(lit) = string(cx, key, path, &value) {
                    if lit.value().trim().is_empty() {
                        cx.error_spanned_by(&lit, "`name` must not be empty");
                    } else {
                        job.name = Some(lit.value());
                    }
                }
            }
            PATH => {
                if let Some(lit) = string(cx, key, path, &value)
                    && rule(cx, &lit, value::check_path(&lit.value()))
                {
                    job.path = Spanned {
                        value: lit.value(),
                        span: lit.span(),
                    };
                }
            }
            ALLOW_UNKNOWN_FIELDS => match value {
                RawValue::Bare => job.allow_unknown_fields = Some(path.span()),
                RawValue::Parens(_) | RawValue::Assigned(_) => cx.error_spanned_by(
                    value.span_tokens(path),
                    format!("`{key}` is a flag and takes no value: write just `{key}`"),
                ),
            },
            _ => unreachable!("`{key}` is in JOB_KEYS but has no arm here"),
        }
        Ok(())
    }
}

/// Records `rule`'s error at `lit`; whether the value passed.
fn rule(cx: &Ctxt, lit: &LitStr, rule: Result<(), String>) -> bool {
    rule.map_err(|message| cx.error_spanned_by(lit, message))
        .is_ok()
}

fn string(cx: &Ctxt, key: Symbol, path: &syn::Path, value: &RawValue) -> Option<LitStr> {
    if let Some(Lit::Str(lit)) = value.literal() {
        return Some(lit);
    }
    cx.error_spanned_by(
        value.span_tokens(path),
        format!("`{key}` expects a string, like `{}`", example(key)),
    );
    None
}

/// The integer literal of `key`'s value, or `None` after an error: `out_of_range` for a
/// negative integer, which no key takes, or the key's example for anything else.
fn integer(
    cx: &Ctxt,
    key: Symbol,
    path: &syn::Path,
    value: &RawValue,
    out_of_range: &str,
) -> Option<syn::LitInt> {
    match value.literal() {
        Some(Lit::Int(lit)) => Some(lit),
        _ if is_negative_integer(value) => {
            cx.error_spanned_by(value.span_tokens(path), out_of_range);
            None
        }
        _ => {
            cx.error_spanned_by(
                value.span_tokens(path),
                format!("`{key}` expects an integer, like `{}`", example(key)),
            );
            None
        }
    }
}

fn positive(cx: &Ctxt, key: Symbol, path: &syn::Path, value: &RawValue) -> Option<u32> {
    let at_least_one = format!("`{key}` must be at least 1");
    let lit = integer(cx, key, path, value, &at_least_one)?;
    match lit.base10_parse::<u32>() {
        Ok(0) => cx.error_spanned_by(&lit, at_least_one),
        Ok(number) => return Some(number),
        Err(error) => cx.syn_error(error),
    }
    None
}

fn priority(cx: &Ctxt, key: Symbol, path: &syn::Path, value: &RawValue) -> Option<u8> {
    let range = format!(
        "`{key}` goes from 0, the most urgent, to {LOWEST_PRIORITY}, the least (default {DEFAULT_PRIORITY})"
    );
    let lit = integer(cx, key, path, value, &range)?;
    match lit.base10_parse::<u8>() {
        Ok(number) if number <= LOWEST_PRIORITY => Some(number),
        _ => {
            cx.error_spanned_by(&lit, range);
            None
        }
    }
}

fn duration(cx: &Ctxt, key: Symbol, path: &syn::Path, value: &RawValue) -> Option<Duration> {
    let Some(Lit::Str(lit)) = value.literal() else {
        cx.error_spanned_by(
            value.span_tokens(path),
            format!("`{key}` expects a duration string, like `{}`", example(key)),
        );
        return None;
    };
    value::parse_duration(example(key), &lit.value())
        .map_err(|message| cx.error_spanned_by(&lit, message))
        .ok()
}

fn is_negative_integer(value: &RawValue) -> bool {
    let RawValue::Assigned(tokens) = value else {
        return false;
    };
    let mut tokens = tokens.clone().into_iter();
    matches!(tokens.next(), Some(TokenTree::Punct(p)) if p.as_char() == '-')
        && matches!(single_literal(tokens.collect()), Some(Lit::Int(_)))
}
