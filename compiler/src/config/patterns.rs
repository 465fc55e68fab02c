//! The regular expressions the values schema puts on strings.
//!
//! Input: nothing; these are constants that the `#[schemars(pattern(...))]` attributes of the
//! values tree refer to. Output: `pattern` keywords in `schema/values.schema.json`.
//!
//! Each pattern follows a rule that Kubernetes, an OCI registry or the upstream ClusterPolicy
//! CRD enforces anyway, so a value it rejects would fail later, on the cluster or on the node.
//! They are deliberately no tighter than that rule: where the upstream chart treats an empty
//! string as "use the built-in default", the `_OR_EMPTY` variant is used.

/// An image repository: a registry host (with optional port) and path, without a trailing
/// slash (`nvcr.io/nvidia`, `registry.local:5000/mirror/nvidia`), or empty.
pub const REPOSITORY: &str = r"^([a-zA-Z0-9\[]([a-zA-Z0-9._:/\[\]-]*[a-zA-Z0-9])?)?$";

/// An image name (`driver`, `cloud-native/dcgm`). Also admits a whole reference such as
/// `nvcr.io/nvidia/driver:595.91.07`, which the operator uses verbatim when both `repository`
/// and `version` are empty.
pub const IMAGE: &str = r"^[a-zA-Z0-9][a-zA-Z0-9._/:@-]*$";

/// An image tag (up to 128 characters of letters, digits, `_`, `.` and `-`, not starting with
/// `.` or `-`), a `sha256:` digest, or empty.
pub const VERSION: &str = r"^([a-zA-Z0-9_][a-zA-Z0-9_.-]{0,127}|sha256:[a-f0-9]{64})?$";

/// A Kubernetes object name of the DNS-subdomain kind (Secrets, ConfigMaps, PriorityClasses).
pub const DNS_SUBDOMAIN: &str = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";

/// [`DNS_SUBDOMAIN`], or the empty string (meaning "none" or "the default").
pub const DNS_SUBDOMAIN_OR_EMPTY: &str = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)?$";

/// A DNS label (lower-case letters, digits and `-`, at most 63 characters, checked with a
/// separate length limit), or empty. RuntimeClass handlers must be labels.
pub const DNS_LABEL_OR_EMPTY: &str = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$";

/// Longest DNS subdomain Kubernetes accepts as a name.
pub const DNS_SUBDOMAIN_MAX: u32 = 253;

/// Longest DNS label.
pub const DNS_LABEL_MAX: u32 = 63;

/// A key of a ConfigMap's `data` (letters, digits, `-`, `_` and `.`), or empty.
pub const CONFIG_MAP_KEY_OR_EMPTY: &str = r"^[-._a-zA-Z0-9]*$";

/// An absolute path on the host.
pub const ABSOLUTE_PATH: &str = r"^/";

/// An absolute path on the host, or empty.
pub const ABSOLUTE_PATH_OR_EMPTY: &str = r"^(/.*)?$";

/// A Prometheus duration as the ServiceMonitor CRD accepts it: units from years down to
/// milliseconds, largest first (`30s`, `1m30s`, `2h`), `0`, or empty for Prometheus' default.
pub const PROMETHEUS_DURATION: &str =
    r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$";

/// A zap log level: `debug`, `info`, `error`, or a positive verbosity written as text.
pub const LOG_LEVEL: &str = r"^(debug|info|error|[1-9][0-9]*)$";

/// A Go duration as NFD's flags parse it (`90s`, `1h30m`, `1.5h`), or `0`.
pub const GO_DURATION: &str = r"^(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$";

/// [`GO_DURATION`], or the empty string.
pub const GO_DURATION_OR_EMPTY: &str = r"^(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)?$";

/// [`GO_DURATION`] with an optional sign, or the empty string.
pub const SIGNED_GO_DURATION_OR_EMPTY: &str = r"^([-+]?(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+))?$";
