# syntax=docker/dockerfile:1

# Build a static binary.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/peekroute .

# Run it from an empty image as an unprivileged user: no shell, no package
# manager, nothing but the binary and the CA certificates for https backends.
FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/peekroute /peekroute
USER 65532:65532
# 8080: clients (PEEKROUTE_LISTEN_ADDR); 9090: /healthz, /readyz, /metrics (PEEKROUTE_ADMIN_ADDR).
EXPOSE 8080 9090
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s CMD ["/peekroute", "healthcheck"]
ENTRYPOINT ["/peekroute"]
