package statefile_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/statefile"
)

// What is saved is there after a restart; the last save of a key wins.
func TestStateSurvivesARestart(t *testing.T) {
	dir := t.TempDir()
	s, err := statefile.Open(dir, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		s.Save("plant/line 1/history", []byte(`{"n": `+string(rune('0'+i%10))+`}`))
	}
	s.Save("other/d", []byte(`{}`))
	s.Close()

	s, err = statefile.Open(dir, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Load(context.Background(), "plant/line 1/history")
	if err != nil || string(got) != `{"n": 9}` {
		t.Errorf("loaded %q, %v; want the last save", got, err)
	}
	if got, err := s.Load(context.Background(), "never/saved"); got != nil || err != nil {
		t.Errorf("a key never saved: %q, %v", got, err)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

// A folder is written by one connector: a second one is refused.
func TestOneWriterPerFolder(t *testing.T) {
	dir := t.TempDir()
	s, err := statefile.Open(dir, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := statefile.Open(dir, zerolog.Nop()); err == nil || !strings.Contains(err.Error(), "state folder "+dir+" is in use by another connector") {
		t.Errorf("second writer: %v", err)
	}
}

// A file that is not what was saved (cut short, edited) is returned as it
// is: the sampler reports it and starts afresh.
func TestCorruptFileIsReturnedForTheSamplerToReport(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a%2Fb.json"), []byte(`{"previous": "20`), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := statefile.Open(dir, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Load(context.Background(), "a/b")
	if err != nil || string(got) != `{"previous": "20` {
		t.Errorf("%q, %v", got, err)
	}
}
