package version_test

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/http-connector/http-connector/internal/version"
)

func TestFromBuildInfo(t *testing.T) {
	vcs := []debug.BuildSetting{
		{Key: "vcs", Value: "git"},
		{Key: "vcs.revision", Value: "3c03c685bda422aaf832445a909bbf749553cabc"},
		{Key: "vcs.time", Value: "2026-12-03T10:58:58Z"},
		{Key: "vcs.modified", Value: "true"},
	}
	for _, c := range []struct {
		name    string
		bi      *debug.BuildInfo
		release string
		want    string
	}{
		{"a build in the repository", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: vcs}, "",
			"http-connector (devel)\ncommit:   3c03c685bda422aaf832445a909bbf749553cabc\nbuilt at: 2026-12-03T10:58:58Z\nmodified: true\ngo:       go1.26.8 " + runtime.GOOS + "/" + runtime.GOARCH + "\n"},
		{"go install module@version", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.2.0"}}, "",
			"http-connector v0.2.0\ngo:       go1.26.8 " + runtime.GOOS + "/" + runtime.GOARCH + "\n"},
		{"a release build", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: vcs[:3]}, "0.1.0",
			"http-connector 0.1.0\ncommit:   3c03c685bda422aaf832445a909bbf749553cabc\nbuilt at: 2026-12-03T10:58:58Z\nmodified: false\ngo:       go1.26.8 " + runtime.GOOS + "/" + runtime.GOARCH + "\n"},
		{"no build information", nil, "", "http-connector (unknown)\ngo:       " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + "\n"},
	} {
		if got := version.From(c.bi, c.release).String(); got != c.want {
			t.Errorf("%s:\ngot\n%s\nwant\n%s", c.name, got, c.want)
		}
	}
	if got := version.Read("").String(); strings.Contains(got, "dev\n") && !strings.Contains(got, "(devel)") {
		t.Errorf("Read: %q", got)
	}
}
