# http-connector: one generic image for every REST device.
# Build: docker build -t http-connector:dev .
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/http-connector ./cmd/http-connector

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/http-connector /http-connector
USER nonroot:nonroot
ENTRYPOINT ["/http-connector"]
CMD ["run"]
