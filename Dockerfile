# syntax=docker/dockerfile:1
# The `mesh` image: the controller and proxy binary on a distroless, non-root runtime.
#   docker build -t mesh:0.1.0 .
# helm/mesh runs it as `/usr/local/bin/mesh run ...` (the chart spells the command out).

# Build stage: the workspace's `mesh` binary (package mesh-operator), release profile.
# Debian bookworm, like the runtime below: the binary links glibc (mimalloc, malloc_trim).
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked -p mesh-operator --bin mesh \
    && install -D -m 0755 target/release/mesh /out/mesh

# Runtime: no shell, no package manager; glibc and libgcc only. UID/GID 65532 (nonroot),
# the same as the chart's podSecurityContext.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/mesh /usr/local/bin/mesh
USER 65532:65532
# Entry points (web 8000, websecure 8443) and the admin API (9000); all unprivileged ports.
EXPOSE 8000 8443 9000
ENTRYPOINT ["/usr/local/bin/mesh"]
CMD ["run"]
