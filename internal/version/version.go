// Package version says which build of the connector is running: its
// version, the commit and time it was built from and whether the tree had
// changes, as the Go toolchain records them in the binary.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Info is what the build recorded.
type Info struct {
	Version   string // the release, the module version, or "(devel)"
	Revision  string // the VCS commit, if recorded
	Time      string // the commit's time, RFC 3339, if recorded
	Modified  bool   // the tree had uncommitted changes
	GoVersion string
}

// Read reads the build information of the running binary; release, if set
// (by -ldflags -X at a release build), is the version.
func Read(release string) Info {
	bi, _ := debug.ReadBuildInfo()
	return From(bi, release)
}

// From is the Info of build information bi (nil: none was recorded).
func From(bi *debug.BuildInfo, release string) Info {
	info := Info{Version: release, GoVersion: runtime.Version()}
	if bi == nil {
		if info.Version == "" {
			info.Version = "(unknown)"
		}
		return info
	}
	if bi.GoVersion != "" {
		info.GoVersion = bi.GoVersion
	}
	if info.Version == "" {
		info.Version = bi.Main.Version
	}
	if info.Version == "" {
		info.Version = "(devel)"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.time":
			info.Time = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	return info
}

// String is the first line "http-connector <version>", then the commit,
// its time, whether the tree was modified and the Go version, a line each.
func (i Info) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "http-connector %s\n", i.Version)
	if i.Revision != "" {
		fmt.Fprintf(&b, "commit:   %s\n", i.Revision)
	}
	if i.Time != "" {
		fmt.Fprintf(&b, "built at: %s\n", i.Time)
	}
	if i.Revision != "" {
		fmt.Fprintf(&b, "modified: %v\n", i.Modified)
	}
	fmt.Fprintf(&b, "go:       %s %s/%s\n", i.GoVersion, runtime.GOOS, runtime.GOARCH)
	return b.String()
}
