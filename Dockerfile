# http-connector: one generic image for every REST device.
# Build: docker build -t http-connector:dev .
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# VERSION, if given, is the release; the commit and its time come from the
# build info either way (http-connector version).
ARG VERSION=
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w ${VERSION:+-X main.release=$VERSION}" -o /out/http-connector ./cmd/http-connector

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/http-connector /http-connector
# A numeric user, so that Kubernetes can check runAsNonRoot.
USER 65532:65532
ENTRYPOINT ["/http-connector"]
CMD ["run"]
