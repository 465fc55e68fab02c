//! End-to-end tests against real components (containerd 1.6, 1.7 and 2.x, installed by
//! `scripts/install-test-deps`). A test whose component is missing skips with a loud message
//! on a developer's machine; with `GPUPLAN_REQUIRE_REAL=1` (set by `scripts/test`, so in CI) a
//! missing component fails the test instead.

mod node_containerd;
mod real;
