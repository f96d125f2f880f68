# hookd in a container: built with the official Rust image, run on debian:bookworm-slim as a
# non-root user. Data (the SQLite database and its master.key) lives in the /data volume.
#   docker build -t hookd .
#   docker run -p 8080:8080 -v hookd-data:/data hookd
# Not built in hookd's CI (no container runtime there): see docs/deployment.md for what was
# checked instead.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY crates ./crates
RUN cargo build --release --locked -p hookd \
    && cp target/release/hookd /usr/local/bin/hookd

FROM debian:bookworm-slim
# ca-certificates: hookd trusts the bundled webpki roots, but proxies and integrations often
# need the system store too; tini reaps and forwards SIGTERM for a graceful stop.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates tini \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin hookd \
    && mkdir -p /data && chown hookd:hookd /data
COPY --from=build /usr/local/bin/hookd /usr/local/bin/hookd
USER hookd
WORKDIR /data
ENV HOOKD_LISTEN=0.0.0.0:8080 \
    HOOKD_DATABASE_URL=sqlite:///data/hookd.db \
    HOOKD_LOG_FORMAT=json
EXPOSE 8080
VOLUME ["/data"]
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/hookd"]
CMD ["serve"]
