// Package aio_test checks the Kubernetes manifests of the AIO example
// against the Dockerfiles of the images they run.
package aio_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/http-connector/http-connector/internal/plan"
	"github.com/http-connector/http-connector/internal/resourcefile"
	"github.com/http-connector/http-connector/internal/yamlfile"
)

// The user the images run as, as Kubernetes can check it: numbers, not a
// name (runAsNonRoot refuses a named user it cannot resolve).
const imageUser = "65532:65532"

// Every Dockerfile of the repository ends as the numeric non-root user.
func TestDockerfilesRunAsNumericNonRootUser(t *testing.T) {
	files := dockerfiles(t, filepath.Join("..", ".."))
	if len(files) < 2 {
		t.Fatalf("found %d Dockerfiles, want the connector's and the thermostat's: %v", len(files), files)
	}
	for _, f := range files {
		user := finalUser(t, f)
		if user != imageUser {
			t.Errorf("%s: the final stage runs as %q, want USER %s", f, user, imageUser)
		}
	}
}

// Every pod of the AIO example asks for a non-root user, by number, the
// one the images are built with.
func TestManifestsRunAsTheImagesUser(t *testing.T) {
	yamls, _ := filepath.Glob("*.yaml")
	pods := 0
	for _, f := range yamls {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs, errs := yamlfile.Read(f, data)
		for _, err := range errs {
			t.Error(err)
		}
		for _, d := range docs {
			doc, _ := d.Value.(map[string]any)
			spec := podSpec(doc)
			if spec == nil {
				continue
			}
			pods++
			where := f + ": " + str(doc["kind"]) + " " + str(field(doc, "metadata", "name"))
			checkPodSecurity(t, where, spec)
		}
	}
	if pods == 0 {
		t.Fatal("no pod specs in examples/aio: the test checks nothing")
	}
}

func checkPodSecurity(t *testing.T, where string, spec map[string]any) {
	t.Helper()
	pod, _ := spec["securityContext"].(map[string]any)
	containers, _ := spec["containers"].([]any)
	for _, c := range containers {
		c, _ := c.(map[string]any)
		sc, _ := c["securityContext"].(map[string]any)
		get := func(key string) any { // the container's setting wins
			if v, ok := sc[key]; ok {
				return v
			}
			return pod[key]
		}
		name := where + " container " + str(c["name"])
		if get("runAsNonRoot") != true {
			t.Errorf("%s: runAsNonRoot is %v, want true", name, get("runAsNonRoot"))
		}
		user := str(get("runAsUser")) + ":" + str(get("runAsGroup"))
		if user != imageUser {
			t.Errorf("%s: runs as %s (runAsUser:runAsGroup), want the images' %s", name, user, imageUser)
		}
	}
}

// podSpec is the pod spec of a Pod or of a workload's pod template.
func podSpec(doc map[string]any) map[string]any {
	switch doc["kind"] {
	case "Pod":
		spec, _ := doc["spec"].(map[string]any)
		return spec
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job":
		spec, _ := field(doc, "spec", "template", "spec").(map[string]any)
		return spec
	}
	return nil
}

func field(v any, path ...string) any {
	for _, p := range path {
		m, _ := v.(map[string]any)
		v = m[p]
	}
	return v
}

func str(v any) string {
	if v == nil {
		return "<unset>"
	}
	return fmt.Sprint(v)
}

func dockerfiles(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if !d.IsDir() && (d.Name() == "Dockerfile" || strings.HasSuffix(d.Name(), ".Dockerfile")) {
			out = append(out, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var userLine = regexp.MustCompile(`(?i)^\s*USER\s+(\S+)`)

// finalUser is the USER of a Dockerfile's last stage, "" when it sets
// none (the base image's user).
func finalUser(t *testing.T, file string) string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	user := ""
	s := bufio.NewScanner(bytes.NewReader(data))
	for s.Scan() {
		line := s.Text()
		if strings.HasPrefix(strings.ToUpper(strings.TrimSpace(line)), "FROM ") {
			user = ""
		}
		if m := userLine.FindStringSubmatch(line); m != nil {
			user = m[1]
		}
	}
	return user
}

// The walkthrough's device and asset plan as Akri mode plans them: the
// dataset with its MQTT and state store destinations, the management
// action.
func TestWalkthroughResourcesPlan(t *testing.T) {
	r, err := resourcefile.NewReader()
	if err != nil {
		t.Fatal(err)
	}
	var res []*resourcefile.Resource
	for _, f := range []string{"thermostat-device.yaml", "thermostat-asset.yaml"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		got, errs := r.Read(f, data)
		for _, err := range errs {
			t.Fatal(err)
		}
		res = append(res, got...)
	}
	pl, err := plan.NewPlanner(plan.Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	pl = pl.WithStateStore()
	ep, probs := pl.Endpoint(res[0].Name, res[0].Device, res[1].Asset.DeviceRef.EndpointName)
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	a, probs := pl.Asset(res[1].Name, res[1].Asset, ep)
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	d := a.Datasets[0]
	if len(d.Targets) != 2 || d.Targets[1].StoreKey != "thermostat1/status" {
		t.Errorf("destinations %+v", d.Targets)
	}
	if len(a.Actions) != 1 || a.Actions[0].Command != "control::setDesired" || a.Actions[0].Request.Method != "POST" {
		t.Errorf("actions %+v", a.Actions)
	}
}
