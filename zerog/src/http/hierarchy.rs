//! The endpoint hierarchy of the seed's Spacewalk add-on: job types hang on branches
//! (`#[job(path = "examples")]`), and a client walks the tree.
//!
//! - `GET /branches`, `GET /{path}/branches`: the child branches, `[{path, name, description}]`;
//! - `GET /leaves`, `GET /{path}/leaves`: the job types on a branch, `[{path, jobType, name, description}]`;
//! - `GET /{path}/{leaf}/post-schema`: `{"postSchema": <the JSON Schema>}`;
//! - `POST /{path}/{leaf}/job`: the same as `POST /job/{jobType}`;
//! - `GET /{path}/progress|info|data/{uuid}`: the flat routes again.
//!
//! Every `GET` of the tree answers `HEAD` too, as the flat routes do.
//!
//! A job type without a path is a leaf of the root. An unknown branch is 404
//! `unknown_branch`; a branch where a leaf is expected is 400 `not_a_leaf`.
//!
//! These paths are dynamic, so [`dispatch`] resolves them only after every flat route
//! has had its chance: `/jobs` or `/progress/{uuid}` can never be shadowed. The derive
//! refuses route words as path segments and job types, so no branch is called `jobs`.

use std::collections::BTreeSet;

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Value, json};

use super::monitor::{self, View};
use super::{ApiError, ApiState, Mount, head, submit};
use crate::registry::{JobType, Registry};

/// The last segment of `/{path}/branches`, and of `/branches` at the root.
pub(super) const BRANCHES: &str = "branches";

/// The last segment of `/{path}/leaves`, and of `/leaves` at the root.
pub(super) const LEAVES: &str = "leaves";

/// A branch of the tree, as `/branches` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub(super) struct Branch {
    /// Its URL path from the root, as Spacewalk built them: `/examples`, `/a/b`.
    pub(super) path: String,
    /// A human name, from its last segment: `Examples`.
    pub(super) name: String,
    /// What hangs on it.
    pub(super) description: String,
}

/// A leaf of the tree (a job type), as `/leaves` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct Leaf {
    /// Its URL path from the root: the branch's path and the job type,
    /// `/examples/waste_time`.
    pub(super) path: String,
    /// The job type.
    pub(super) job_type: String,
    /// The job type's human name.
    pub(super) name: String,
    /// What the job does.
    pub(super) description: String,
}

/// The branches of the tree: every prefix of every job type's path. The root (`""`) is
/// not among them.
pub(super) fn branches(registry: &Registry) -> BTreeSet<&'static str> {
    let mut branches = BTreeSet::new();
    for job_type in registry.iter() {
        let path = job_type.spec().path;
        for (end, _) in path.match_indices('/') {
            branches.insert(&path[..end]);
        }
        if !path.is_empty() {
            branches.insert(path);
        }
    }
    branches
}

/// The branches directly under `parent` (`""` for the root).
pub(super) fn children(registry: &Registry, parent: &str, mount: &Mount) -> Vec<Branch> {
    branches(registry)
        .into_iter()
        .filter(|branch| parent_of(branch) == parent)
        .map(|path| describe_branch(registry, path, mount))
        .collect()
}

/// The job types on `branch` (`""` for the root).
pub(super) fn leaves(registry: &Registry, branch: &str, mount: &Mount) -> Vec<Leaf> {
    leaf_types(registry, branch)
        .map(|job_type| {
            let spec = job_type.spec();
            Leaf {
                path: mount.url(&format!("/{}", join(branch, spec.job_type))),
                job_type: spec.job_type.to_owned(),
                name: spec.name.to_owned(),
                description: spec.description.to_owned(),
            }
        })
        .collect()
}

fn leaf_types<'r>(registry: &'r Registry, branch: &'r str) -> impl Iterator<Item = &'r JobType> {
    registry
        .iter()
        .filter(move |job_type| job_type.spec().path == branch)
}

fn describe_branch(registry: &Registry, path: &str, mount: &Mount) -> Branch {
    let segment = path.rsplit('/').next().unwrap_or(path);
    let leaves = leaf_types(registry, path).count();
    let sub_branches = children_count(registry, path);
    Branch {
        path: mount.url(&format!("/{path}")),
        name: human_name(segment),
        description: format!(
            "{leaves} job type{} and {sub_branches} branch{} under `{path}`",
            if leaves == 1 { "" } else { "s" },
            if sub_branches == 1 { "" } else { "es" },
        ),
    }
}

fn children_count(registry: &Registry, parent: &str) -> usize {
    branches(registry)
        .into_iter()
        .filter(|branch| parent_of(branch) == parent)
        .count()
}

fn parent_of(branch: &str) -> &str {
    branch.rsplit_once('/').map_or("", |(parent, _)| parent)
}

fn join(branch: &str, name: &str) -> String {
    if branch.is_empty() {
        name.to_owned()
    } else {
        format!("{branch}/{name}")
    }
}

/// `image_tools` → `Image tools`.
fn human_name(segment: &str) -> String {
    let spaced = segment.replace('_', " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => spaced,
    }
}

/// What a hierarchy path asks for.
enum Endpoint<'r> {
    Branches(&'r str),
    Leaves(&'r str),
    PostSchema(&'r JobType),
    Submit(&'r JobType),
    Alias(View, &'r str),
}

impl Endpoint<'_> {
    fn method(&self) -> Method {
        match self {
            Endpoint::Submit(_) => Method::POST,
            _ => Method::GET,
        }
    }
}

/// Resolves `path` (with its leading slash) against the tree.
fn resolve<'r>(registry: &'r Registry, path: &'r str) -> Result<Endpoint<'r>, ApiError> {
    let no_route = || ApiError::NoRoute {
        method: String::new(),
        path: path.to_owned(),
    };
    let inner = path.strip_prefix('/').ok_or_else(no_route)?;
    if inner.split('/').any(str::is_empty) {
        return Err(no_route());
    }
    let (head, last) = inner.rsplit_once('/').unwrap_or(("", inner));
    let known = branches(registry);
    let branch = |path: &'r str| -> Result<&'r str, ApiError> {
        if path.is_empty() || known.contains(path) {
            Ok(path)
        } else {
            Err(ApiError::UnknownBranch(path.to_owned()))
        }
    };
    match last {
        BRANCHES => return Ok(Endpoint::Branches(branch(head)?)),
        LEAVES => return Ok(Endpoint::Leaves(branch(head)?)),
        "post-schema" | "job" if !head.is_empty() => {
            let (branch_path, leaf) = head.rsplit_once('/').unwrap_or(("", head));
            let branch_path = branch(branch_path)?;
            let joined = join(branch_path, leaf);
            if known.contains(joined.as_str()) {
                return Err(ApiError::NotALeaf(joined));
            }
            let job_type = leaf_types(registry, branch_path)
                .find(|job_type| job_type.spec().job_type == leaf)
                .ok_or_else(|| ApiError::UnknownLeaf {
                    branch: branch_path.to_owned(),
                    leaf: leaf.to_owned(),
                })?;
            return Ok(if last == "job" {
                Endpoint::Submit(job_type)
            } else {
                Endpoint::PostSchema(job_type)
            });
        }
        _ => {}
    }
    // `/{path}/progress/{uuid}`: the uuid is the last segment, the view word before it.
    let (branch_path, word) = head.rsplit_once('/').ok_or_else(no_route)?;
    let view = View::named(word).ok_or_else(no_route)?;
    branch(branch_path)?;
    Ok(Endpoint::Alias(view, last))
}

/// Answers a path of the hierarchy, or 404 `not_found` for a path that is not one.
pub(super) async fn dispatch(
    request: HttpRequest,
    body: web::Payload,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let mount = Mount::of(&request);
    let endpoint =
        resolve(&state.registry, mount.below(request.path())).map_err(|error| match error {
            ApiError::NoRoute { .. } => ApiError::NoRoute {
                method: request.method().to_string(),
                path: request.path().to_owned(),
            },
            error => error,
        })?;
    let served = head::methods_serving(&endpoint.method());
    if !served.contains(request.method()) {
        return Err(ApiError::MethodNotAllowed {
            method: request.method().to_string(),
            allow: served
                .iter()
                .map(Method::as_str)
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    match endpoint {
        Endpoint::Branches(parent) => {
            Ok(HttpResponse::Ok().json(children(&state.registry, parent, &mount)))
        }
        Endpoint::Leaves(branch) => {
            Ok(HttpResponse::Ok().json(leaves(&state.registry, branch, &mount)))
        }
        Endpoint::PostSchema(job_type) => Ok(HttpResponse::Ok().json(post_schema(job_type))),
        Endpoint::Submit(job_type) => submit::accept(&request, job_type, body, &state).await,
        Endpoint::Alias(view, uuid) => monitor::answer(&state, view, uuid).await,
    }
}

/// The body of `/{path}/{leaf}/post-schema`.
pub(super) fn post_schema(job_type: &JobType) -> Value {
    json!({ "postSchema": job_type.schema() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_parents_come_from_the_path() {
        assert_eq!(human_name("image_tools"), "Image tools");
        assert_eq!(parent_of("a/b/c"), "a/b");
        assert_eq!(parent_of("a"), "");
        assert_eq!(join("", "t"), "t");
        assert_eq!(join("a/b", "t"), "a/b/t");
    }
}
