package config_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/http-connector/http-connector/examples/thermostat"
	"github.com/http-connector/http-connector/internal/config"
	"github.com/http-connector/http-connector/internal/plan"
)

// TestBadInput loads every folder of testdata/badinput: broken syntax,
// wrong types, hostile YAML (alias bombs, deep nesting), invalid UTF-8,
// binary data. Each must fail fast with the exact error of its want.err,
// every line naming the file; go test -update rewrites them.
func TestBadInput(t *testing.T) {
	cases, err := os.ReadDir("testdata/badinput")
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatal("testdata/badinput is empty")
	}
	l := newLoader(t)
	for _, c := range cases {
		t.Run(c.Name(), func(t *testing.T) {
			dir := filepath.Join("testdata/badinput", c.Name())
			begin := time.Now()
			_, err := l.LoadDir(os.DirFS(dir), ".", c.Name())
			if took := time.Since(begin); took > 2*time.Second {
				t.Errorf("loading took %v", took)
			}
			if err == nil {
				t.Fatal("loaded without error")
			}
			var errs config.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error is %T, want config.Errors", err)
			}
			for _, e := range errs {
				if !strings.HasPrefix(e.Error(), c.Name()+"/") {
					t.Errorf("error does not name the file: %v", e)
				}
			}
			compareWantErr(t, dir, err)
		})
	}
}

// FuzzLoadConfig loads arbitrary bytes as a resource file next to a valid
// device: the loader must not panic or hang, and every error it returns
// names the file.
func FuzzLoadConfig(f *testing.F) {
	device, err := fs.ReadFile(thermostat.Config(), "device.yaml")
	if err != nil {
		f.Fatal(err)
	}
	asset, err := fs.ReadFile(thermostat.Config(), "asset.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(asset)
	f.Add(device)
	// Every file of the corpora is a seed, but the big ones: the fuzzer
	// would spend its time minimizing them.
	for _, root := range []string{"testdata/invalid", "testdata/badinput", "testdata/valid"} {
		_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || strings.HasSuffix(path, ".err") {
				return err
			}
			if b, err := os.ReadFile(path); err == nil && len(b) < 16<<10 {
				f.Add(b)
			}
			return nil
		})
	}
	l, err := config.NewLoader(plan.Defaults{SamplingInterval: time.Second, RequestTimeout: 10 * time.Second})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := fstest.MapFS{
			"device.yaml": {Data: device},
			"fuzz.yaml":   {Data: data},
		}
		cfg, err := l.LoadDir(fsys, ".", "fuzz")
		if err == nil {
			if cfg == nil {
				t.Fatal("no configuration and no error")
			}
			return
		}
		var errs config.Errors
		if !errors.As(err, &errs) || len(errs) == 0 {
			t.Fatalf("error is %T (%v), want config.Errors", err, err)
		}
		for _, e := range errs {
			if !strings.HasPrefix(e.Error(), "fuzz/") {
				t.Errorf("error does not name the file: %v", e)
			}
		}
	})
}
