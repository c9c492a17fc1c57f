# otelcol-amas container image: the distribution built by `make build` from builder-config.yaml,
# on a distroless base, with the default configuration listening on all interfaces. Beyond
# loopback OTLP and the SLO status API require a bearer token (config/overlays/auth.yaml), read
# from the file AMAS_AUTH_TOKEN_FILE names (default /etc/otelcol-amas/secrets/token):
#   docker build -t otelcol-amas .
#   docker run -p 4317:4317 -p 4318:4318 -p 8889:8889 -p 13133:13133 \
#     -v "$PWD/token:/etc/otelcol-amas/secrets/token:ro" otelcol-amas
# The SLO status page and API listen on 13134.
FROM golang:1.26-bookworm AS build
WORKDIR /src
# Module downloads first, so source edits reuse the cached layer.
COPY go.mod go.sum ./
COPY distribution/go.mod distribution/go.sum distribution/
RUN go mod download && cd distribution && go mod download
COPY . .
ENV CGO_ENABLED=0
RUN make build && mkdir -p /state

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /src/bin/otelcol-amas /otelcol-amas
COPY --from=build --chown=nonroot:nonroot /state /var/lib/otelcol-amas
COPY config/otelcol-amas.yaml /etc/otelcol-amas/config.yaml
COPY config/overlays/ /etc/otelcol-amas/overlays/
# Inside a container the endpoints must listen beyond loopback; state goes to a volume.
ENV AMAS_OTLP_GRPC_ENDPOINT=0.0.0.0:4317 \
    AMAS_OTLP_HTTP_ENDPOINT=0.0.0.0:4318 \
    AMAS_PROMETHEUS_ENDPOINT=0.0.0.0:8889 \
    AMAS_HEALTH_ENDPOINT=0.0.0.0:13133 \
    AMAS_SLO_STATUS_ENDPOINT=0.0.0.0:13134 \
    AMAS_STORAGE_DIR=/var/lib/otelcol-amas
VOLUME ["/var/lib/otelcol-amas"]
EXPOSE 4317 4318 8889 13133 13134
USER nonroot
ENTRYPOINT ["/otelcol-amas"]
CMD ["--config", "/etc/otelcol-amas/config.yaml", "--config", "/etc/otelcol-amas/overlays/auth.yaml"]
