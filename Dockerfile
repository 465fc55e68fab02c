# syntax=docker/dockerfile:1
# The gpuplan image: one static-ish binary, `gpuplan`, for both of its in-cluster roles.
#
#   gpuplan operator     the controller of the chart's Deployment (and of the plan's
#                        gpuplan-operator stage). It only talks to the API server, so it runs
#                        as the image's non-root user (65532), with a read-only root file
#                        system and no capabilities (the Deployment drops ALL).
#   gpuplan node-agent   the container toolkit DaemonSet's agent on every GPU node. It runs as
#                        root, privileged, in the host PID namespace, with host mounts, and must:
#                        it rewrites the container runtime's config on the host
#                        (/etc/containerd/config.toml, CRI-O drop-ins, /etc/docker/daemon.json,
#                        owned by root), and restarts or signals the runtime's process on the
#                        host, which only root in the host PID namespace can reach. Its pod asks
#                        for that explicitly (securityContext privileged and runAsUser: 0);
#                        nothing here gives it to the operator.
#
# Build (BuildKit): docker build -t ghcr.io/gpuplan/gpuplan:$(version) .
# The build needs only the workspace: templates, values/values.yaml and
# schema/values.schema.json are embedded into the binary at compile time.

# --- build -------------------------------------------------------------------------------
# The workspace's rust-version (Cargo.toml) is the floor; edition 2024 needs 1.85 or newer.
# 1.90 and newer link with LLD, which lays out the code the node agent and the short commands
# run side by side (scripts/lib/cc-ordered; with an older Rust the binary is only larger in
# memory). The same release the project is developed and tested with.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# Cache the registry and the target dir between builds; copy the binary out of the cache.
# scripts/build links it statically: shorter, leaner starts (see the script).
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    binary="$(scripts/build dist)" \
    && install -D -m 0755 "$binary" /out/gpuplan

# --- runtime -----------------------------------------------------------------------------
# glibc and libgcc only (TLS is rustls, no OpenSSL); no shell, no package manager. gpuplan is
# linked statically (scripts/build) and needs neither; chroot below needs glibc.
FROM gcr.io/distroless/cc-debian12:nonroot
LABEL org.opencontainers.image.title="gpuplan" \
      org.opencontainers.image.description="See, check and apply what the NVIDIA GPU Operator would deploy, before it happens." \
      org.opencontainers.image.source="https://github.com/gpuplan/gpuplan" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/gpuplan /usr/local/bin/gpuplan
# The node agent's `systemd` restart mode runs `chroot <host root> systemctl restart <unit>`
# (operator/src/agent/restart.rs): chroot is the one program it needs from outside; Debian
# 12's, dynamically linked against the same glibc this base image carries.
COPY --from=build /usr/sbin/chroot /usr/sbin/chroot
# distroless' `nonroot` user; the node agent's pod overrides it with runAsUser: 0 (see above).
USER 65532:65532
ENTRYPOINT ["gpuplan"]
CMD ["operator"]
