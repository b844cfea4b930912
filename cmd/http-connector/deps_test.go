package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The connector's binary carries no test code: no testing package, no test
// double, no benchmark driver and no simulated fleet.
func TestBinaryCarriesNoTestCode(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		switch {
		case pkg == "testing", strings.HasPrefix(pkg, "testing/"),
			strings.Contains(pkg, "/internal/testing/"),
			strings.HasSuffix(pkg, "/internal/bench"),
			strings.HasSuffix(pkg, "/examples/fleet"):
			t.Errorf("the connector's binary depends on %s", pkg)
		}
	}
}
