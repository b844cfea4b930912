package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/http-connector/http-connector/internal/image"
	"github.com/http-connector/http-connector/internal/settings"
	"github.com/http-connector/http-connector/schemas"
)

// dockerfile is what the tests read of the Dockerfile: its instructions
// by stage, continuations joined and comments dropped.
type dockerfile struct {
	stages [][]instruction
}

type instruction struct {
	cmd  string // upper case: FROM, RUN, USER, …
	args string
}

func readDockerfile(t *testing.T, path string) dockerfile {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var d dockerfile
	var line strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(l, "#") || l == "" && line.Len() == 0 {
			continue
		}
		if cont, ok := strings.CutSuffix(l, `\`); ok {
			line.WriteString(cont + " ")
			continue
		}
		line.WriteString(l)
		cmd, args, _ := strings.Cut(line.String(), " ")
		line.Reset()
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)}
		if in.cmd == "FROM" {
			d.stages = append(d.stages, nil)
		}
		if len(d.stages) == 0 {
			t.Fatalf("%s: %s before the first FROM", path, in.cmd)
		}
		d.stages[len(d.stages)-1] = append(d.stages[len(d.stages)-1], in)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(d.stages) == 0 {
		t.Fatalf("%s: no FROM", path)
	}
	return d
}

// all is the arguments of every instruction cmd of a stage.
func all(stage []instruction, cmd string) []string {
	var args []string
	for _, in := range stage {
		if in.cmd == cmd {
			args = append(args, in.args)
		}
	}
	return args
}

// last is the arguments of the stage's last instruction cmd, which is the
// one in force, or "".
func last(stage []instruction, cmd string) string {
	args := all(stage, cmd)
	if len(args) == 0 {
		return ""
	}
	return args[len(args)-1]
}

// distroless… are what the Dockerfile's base image gives the image
// it builds (GoogleContainerTools/distroless, static/static.bzl, the
// nonroot variant): its user, working folder and environment, and among
// its files the CA bundle at /etc/ssl/certs/ca-certificates.crt and /tmp
// 1777. A different base fails TestDockerfileAgrees, to be checked anew.
const (
	distrolessFrom    = "gcr.io/distroless/static-debian12:nonroot"
	distrolessUser    = "65532"
	distrolessWorkDir = "/home/nonroot"
)

func distrolessEnv() []string {
	return []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"}
}

// TestDockerfileAgrees compares the image this command builds with the
// one the Dockerfile describes, as far as that can be read without a
// container engine: base, user, working folder, environment, entrypoint,
// command, where the binary goes, how it is built, and labels.
func TestDockerfileAgrees(t *testing.T) {
	d := readDockerfile(t, filepath.Join("..", "..", "Dockerfile"))
	final := d.stages[len(d.stages)-1]
	cfg := builtConfig(t)

	base := strings.Fields(final[0].args)[0]
	if base != distrolessFrom {
		t.Fatalf("Dockerfile: the final stage is FROM %s; this test knows what %s gives (user, working folder, environment, CA bundle, /tmp): check the new base and update distroless…", base, distrolessFrom)
	}
	user := last(final, "USER")
	if user == "" {
		user = distrolessUser
	}
	if user != cfg.User || cfg.User != image.User {
		t.Errorf("user: Dockerfile %q, image %q; want both %q", user, cfg.User, image.User)
	}
	workDir := last(final, "WORKDIR")
	if workDir == "" {
		workDir = distrolessWorkDir
	}
	if workDir != cfg.WorkingDir {
		t.Errorf("working folder: Dockerfile %q, image %q", workDir, cfg.WorkingDir)
	}
	if env := all(final, "ENV"); len(env) > 0 {
		t.Errorf("Dockerfile: ENV %q: compare it with the image's environment here", env)
	}
	if !reflect.DeepEqual(cfg.Env, distrolessEnv()) {
		t.Errorf("environment: Dockerfile (its base) %q, image %q", distrolessEnv(), cfg.Env)
	}
	for _, c := range []struct {
		cmd  string
		want []string
	}{{"ENTRYPOINT", cfg.Entrypoint}, {"CMD", cfg.Cmd}} {
		var got []string
		if err := json.Unmarshal([]byte(last(final, c.cmd)), &got); err != nil {
			t.Errorf("Dockerfile: %s %s: want the exec form, a JSON array: %v", c.cmd, last(final, c.cmd), err)
		} else if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: Dockerfile %q, image %q", strings.ToLower(c.cmd), got, c.want)
		}
	}
	if !reflect.DeepEqual(cfg.Entrypoint, []string{image.BinaryPath}) {
		t.Errorf("image entrypoint %q, want [%s]", cfg.Entrypoint, image.BinaryPath)
	}
	copies := all(final, "COPY")
	if len(copies) != 1 || !strings.HasPrefix(copies[0], "--from=") || !strings.HasSuffix(copies[0], " "+image.BinaryPath) {
		t.Errorf("Dockerfile: final stage COPY %q; want one, of the built binary to %s", copies, image.BinaryPath)
	}

	// How the binary is built: static, trimmed, stripped, the version
	// in the variable this command sets.
	var build string
	for _, stage := range d.stages[:len(d.stages)-1] {
		for _, run := range all(stage, "RUN") {
			if strings.Contains(run, "go build") {
				build = run
			}
		}
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-s -w", "-X main." + releaseVar + "=", "./cmd/http-connector"} {
		if !strings.Contains(build, want) {
			t.Errorf("Dockerfile: go build %q: no %q, which this command's build has", build, want)
		}
	}

	// Labels: the Dockerfile may set fewer (it has no revision or time
	// unless given them), but none this command does not.
	labelPair := regexp.MustCompile(`([^\s=]+)=("(?:[^"\\]|\\.)*"|\S*)`)
	for _, l := range all(final, "LABEL") {
		for _, m := range labelPair.FindAllStringSubmatch(l, -1) {
			if k := strings.Trim(m[1], `"`); cfg.Labels[k] == "" {
				t.Errorf("Dockerfile: LABEL %s, which the image built here does not have", k)
			}
		}
	}
}

// builtConfig is the config of an image built here, read back from its
// layout.
func builtConfig(t *testing.T) v1.Config {
	t.Helper()
	p, _ := image.ParsePlatform("linux/amd64")
	exe := filepath.Join(t.TempDir(), "http-connector")
	if err := os.WriteFile(exe, []byte("not run"), 0o755); err != nil {
		t.Fatal(err)
	}
	ix, err := image.Build(image.Metadata{Version: "1.2.3", Revision: "abc", Source: "https://example.com"}, []byte("certificates"), []image.Binary{{Platform: p, Path: exe}})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "layout")
	if err := ix.WriteLayout(dir, "1.2.3"); err != nil {
		t.Fatal(err)
	}
	root, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	rim, err := root.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	ii, err := root.ImageIndex(rim.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	im, err := ii.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	img, err := ii.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	return cf.Config
}

// TestMetadataAgrees: the check runs the connector metadata's readiness
// probe and expects the ready file the connector keeps in Akri mode, and
// the platforms built by default are the metadata's architectures.
func TestMetadataAgrees(t *testing.T) {
	b, err := schemas.File(schemas.ConnectorMetadata)
	if err != nil {
		t.Fatal(err)
	}
	var md struct {
		ImageConfigurationSettings struct {
			ImageName      string `json:"imageName"`
			ReadinessProbe struct {
				Exec struct {
					Command []string `json:"command"`
				} `json:"exec"`
			} `json:"readinessProbe"`
		} `json:"imageConfigurationSettings"`
		SupportedArchitectures []string `json:"supportedArchitectures"`
	}
	if err := json.Unmarshal(b, &md); err != nil {
		t.Fatal(err)
	}
	if got := md.ImageConfigurationSettings.ReadinessProbe.Exec.Command; !slices.Equal(got, probeCommand()) {
		t.Errorf("metadata readiness probe %q, the check runs %q", got, probeCommand())
	}
	if readyFile != settings.DefaultAkriReadyFile {
		t.Errorf("the check expects the ready file %s, the connector keeps %s", readyFile, settings.DefaultAkriReadyFile)
	}
	if !strings.HasPrefix(readyFile, "/tmp/") {
		t.Errorf("ready file %s: not in /tmp, the one folder of the image its user may write", readyFile)
	}
	if got := strings.Join(md.SupportedArchitectures, ","); got != defaultPlatforms {
		t.Errorf("metadata supportedArchitectures %s, default --platforms %s", got, defaultPlatforms)
	}
	if got := md.ImageConfigurationSettings.ImageName; got != "http-connector" {
		t.Errorf("metadata imageName %q; the README pushes the image as http-connector", got)
	}
}
