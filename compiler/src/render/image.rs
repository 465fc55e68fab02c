//! Image references as the GPU Operator assembles them from values.
//!
//! Input: a component's `repository`, `image` and `version`. Output: the reference the pods
//! run: `<repository>/<image>:<version>`, `<repository>/<image>@sha256:...` when the version is
//! a digest, or `image` alone when both repository and version are empty (the operator then
//! uses it verbatim, which lets a full reference stand in `image`).

use super::Rule;

const IMAGE_RULE: &str = "image reference assembled as the operator does: \
    `<repository>/<image>:<version>` (a trailing `/` of the repository dropped), \
    `<repository>/<image>@<version>` when the version is a `sha256:` digest, or `image` alone \
    when repository and version are both empty.";

/// How image references are built from values, for `gpuplan explain` (every stage).
pub const RULES: &[Rule] = &[
    Rule { stage: "*", kind: "*", field: "spec.template.spec.containers[*].image", text: IMAGE_RULE },
    Rule { stage: "*", kind: "*", field: "spec.template.spec.initContainers[*].image", text: IMAGE_RULE },
];

/// The image reference for a component.
pub fn reference(repository: &str, image: &str, version: &str) -> String {
    let repository = repository.trim_end_matches('/');
    if repository.is_empty() && version.is_empty() {
        return image.to_owned();
    }
    let name = if repository.is_empty() { image.to_owned() } else { format!("{repository}/{image}") };
    if version.is_empty() {
        name
    } else if version.starts_with("sha256:") {
        format!("{name}@{version}")
    } else {
        format!("{name}:{version}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_each_form_builds_the_operator_reference() {
        assert_eq!(
            reference("nvcr.io/nvidia/k8s", "container-toolkit", "v1.20.0"),
            "nvcr.io/nvidia/k8s/container-toolkit:v1.20.0"
        );
        assert_eq!(reference("nvcr.io/nvidia", "driver", "sha256:abc"), "nvcr.io/nvidia/driver@sha256:abc");
        assert_eq!(reference("", "registry.local/driver:1.0", ""), "registry.local/driver:1.0");
        assert_eq!(reference("nvcr.io/nvidia/", "gpu-operator", "v26.7.0"), "nvcr.io/nvidia/gpu-operator:v26.7.0");
    }
}
