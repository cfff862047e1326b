# syntax=docker/dockerfile:1
#
# mediabar-bridge image: a static binary on distroless, running as the nonroot user.
#
#   docker build -t ghcr.io/mediabar-bridge/mediabar-bridge:0.1.0 --build-arg VERSION=0.1.0 .
#
# The Go version matches go.mod.
ARG GO_VERSION=1.26.8

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
WORKDIR /src
# Dependencies first, so they stay cached while only the source changes.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG TARGETOS
ARG TARGETARCH
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags="-s -w -X main.version=${VERSION}" \
      -o /out/mediabar-bridge ./cmd/mediabar-bridge

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/mediabar-bridge /usr/local/bin/mediabar-bridge
# 65532 is distroless's nonroot user; numeric so that runAsNonRoot can verify it.
USER 65532:65532
# 8080: ACD webhooks, media bar, admin API. 9090: /livez /readyz /metrics /version.
EXPOSE 8080 9090
ENTRYPOINT ["/usr/local/bin/mediabar-bridge"]
CMD ["serve"]
