# Accord server image. Build: docker build -t accord .
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release -p accord && cp target/release/accord /accord

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/accord --create-home accord
COPY --from=build /accord /usr/local/bin/accord
USER accord
WORKDIR /var/lib/accord
ENV ACCORD_LISTEN=0.0.0.0:8080 \
    DATABASE_URL=sqlite:///var/lib/accord/accord.db
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD curl -fsS http://127.0.0.1:8080/readyz || exit 1
ENTRYPOINT ["accord"]
CMD ["serve"]
