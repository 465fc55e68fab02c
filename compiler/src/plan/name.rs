//! Release names and namespaces, checked as Helm and Kubernetes check them.
//!
//! Input: a release name or a namespace as given on the command line. Output: `Ok`, or an
//! [`Error::Name`] with Helm's text (release names) or Kubernetes' (namespaces). Names end up
//! in object names, labels and file paths (`template --output-dir`), so nothing else may
//! pass: `UPPER space`, `../../etc`, an empty name, 300 characters.

use crate::error::Error;

/// Helm's `maxReleaseNameLen`: release names end up in labels and in names with suffixes.
pub const MAX_RELEASE_NAME: usize = 53;

/// Kubernetes' limit on a DNS-1123 label, which a namespace is.
pub const MAX_NAMESPACE: usize = 63;

/// Helm's release name pattern (a DNS-1123 subdomain), as its error prints it.
const RELEASE_PATTERN: &str = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";

/// Check a release name as Helm's `ValidateReleaseName` does.
pub fn release_name(name: &str) -> Result<(), Error> {
    let fail = |message: String| Err(Error::Name { what: "release name", name: name.to_owned(), message });
    if name.is_empty() {
        return fail("no name provided".into());
    }
    if name.len() > MAX_RELEASE_NAME || !name.split('.').all(label) {
        return fail(format!(
            "invalid release name, must match regex {RELEASE_PATTERN} and the length must not be longer than {MAX_RELEASE_NAME}"
        ));
    }
    Ok(())
}

/// Check a namespace as Kubernetes checks a DNS-1123 label.
pub fn namespace(name: &str) -> Result<(), Error> {
    let fail = |message: String| Err(Error::Name { what: "namespace", name: name.to_owned(), message });
    if name.is_empty() {
        return fail("must not be empty".into());
    }
    if name.len() > MAX_NAMESPACE {
        return fail(format!("must be no more than {MAX_NAMESPACE} characters"));
    }
    if !label(name) {
        return fail(
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must \
             start and end with an alphanumeric character (e.g. 'my-name', or '123-abc', regex used for \
             validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
                .into(),
        );
    }
    Ok(())
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`
fn label(s: &str) -> bool {
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = s.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => alnum(first) && alnum(last) && bytes.iter().all(|b| alnum(b) || *b == b'-'),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_helms_own_cases_release_names_pass_or_fail_as_in_helm() {
        for ok in ["nope", "a", "a-b", "a.b", "1", "0day", "a.b.c-d", &"a".repeat(53)] {
            assert!(release_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-a", "a-", "a..b", ".a", "a.", "A", "a_b", "a b", "a/b", &"a".repeat(54)] {
            assert!(release_name(bad).is_err(), "{bad}");
        }
        assert_eq!(
            release_name("UPPER").map_err(|e| e.to_string()),
            Err(format!(
                "release name \"UPPER\": invalid release name, must match regex {RELEASE_PATTERN} and the length must not be longer than 53"
            ))
        );
    }

    #[test]
    fn given_namespaces_only_dns_labels_pass() {
        for ok in ["gpu-operator", "a", "0", &"n".repeat(63)] {
            assert!(namespace(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a.b", "-a", "a-", "Upper", "../../etc", &"n".repeat(64)] {
            assert!(namespace(bad).is_err(), "{bad}");
        }
        assert_eq!(namespace("").map_err(|e| e.to_string()), Err("namespace \"\": must not be empty".into()));
    }
}
