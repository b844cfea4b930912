package image

import (
	"fmt"
	"strings"
)

// Platform is an operating system and CPU architecture an image is built
// for, spelt as in an OCI image index and as GOOS/GOARCH.
type Platform struct {
	OS           string // "linux"
	Architecture string // a GOARCH: "amd64", "arm64"
	Variant      string // "v8" for arm64, empty for amd64
}

// supported are the platforms the image can be built for: the
// architectures the connector metadata declares
// (schemas/connector-metadata.json, supportedArchitectures).
var supported = []Platform{
	{OS: "linux", Architecture: "amd64"},
	{OS: "linux", Architecture: "arm64", Variant: "v8"},
}

// ParsePlatform reads "os/arch" or "os/arch/variant", as in
// "linux/arm64" or "linux/arm64/v8"; arm64 without a variant is v8.
func ParsePlatform(s string) (Platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 {
		return Platform{}, fmt.Errorf("platform %q: want os/arch or os/arch/variant", s)
	}
	for _, p := range supported {
		if parts[0] != p.OS || parts[1] != p.Architecture {
			continue
		}
		if len(parts) == 3 && parts[2] != p.Variant {
			break
		}
		return p, nil
	}
	names := make([]string, len(supported))
	for i, p := range supported {
		names[i] = p.String()
	}
	return Platform{}, fmt.Errorf("platform %q: not supported (supported: %s)", s, strings.Join(names, ", "))
}

// ParsePlatforms reads a comma-separated list of platforms; each may
// appear once.
func ParsePlatforms(s string) ([]Platform, error) {
	var ps []Platform
	seen := map[Platform]bool{}
	for _, f := range strings.Split(s, ",") {
		p, err := ParsePlatform(strings.TrimSpace(f))
		if err != nil {
			return nil, err
		}
		if seen[p] {
			return nil, fmt.Errorf("platform %q: listed twice", p)
		}
		seen[p] = true
		ps = append(ps, p)
	}
	return ps, nil
}

// String returns "os/arch" or "os/arch/variant".
func (p Platform) String() string {
	if p.Variant == "" {
		return p.OS + "/" + p.Architecture
	}
	return p.OS + "/" + p.Architecture + "/" + p.Variant
}
