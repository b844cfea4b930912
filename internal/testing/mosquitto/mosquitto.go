// Package mosquitto runs a Mosquitto broker process on loopback, for the
// integration tests and the benchmark that need a real, separate broker
// that can be killed and restarted. It is the one Mosquitto starter of the
// tests.
package mosquitto

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// Broker is a running mosquitto process.
type Broker struct {
	bin  string
	dir  string
	port int

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Path finds the mosquitto binary (PATH, then /usr/sbin).
func Path() (string, error) {
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/sbin/mosquitto"); err == nil {
		return "/usr/sbin/mosquitto", nil
	}
	return "", errors.New("mosquitto not found (apt-get install mosquitto)")
}

// Options of a broker.
type Options struct {
	// Persistent keeps sessions and queued messages in a database in the
	// broker's folder, saved every second and on changes, so that they
	// survive a kill (see Saved).
	Persistent bool
}

// Start runs mosquitto on 127.0.0.1 at a free port, with its files in dir.
func Start(dir string) (*Broker, error) { return StartWith(dir, Options{}) }

// StartWith is Start with options.
func StartWith(dir string, o Options) (*Broker, error) {
	bin, err := Path()
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	b := &Broker{bin: bin, dir: dir, port: port}
	conf := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\nmax_queued_messages 100000\nlog_dest stderr\nlog_type error\n", port)
	if o.Persistent {
		conf += fmt.Sprintf("persistence true\npersistence_location %s/\nautosave_interval 1\nautosave_on_changes true\n", dir)
	} else {
		conf += "persistence false\n"
	}
	if os.Geteuid() == 0 {
		// As root, Mosquitto drops to the user "mosquitto", which could
		// not write the database in a test's folder.
		conf += "user root\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "mosquitto.conf"), []byte(conf), 0o644); err != nil {
		return nil, err
	}
	if err := b.Restart(); err != nil {
		return nil, err
	}
	return b, nil
}

// TB is what ForTest needs of a *testing.T.
type TB interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Skip(args ...any)
	TempDir() string
	Cleanup(func())
	Failed() bool
	Logf(format string, args ...any)
}

// ForTest starts a broker for t and stops it when t ends; a failed test
// logs the broker's output. Without the binary the test is skipped,
// except under CI=true, where it fails.
func ForTest(t TB, o ...Options) *Broker {
	t.Helper()
	if _, err := Path(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v: CI must install it", err)
		}
		t.Skip(err)
	}
	var opts Options
	if len(o) > 0 {
		opts = o[0]
	}
	dir, err := os.MkdirTemp("", "mosquitto-") // not t.TempDir: the broker may write in it after a kill
	if err != nil {
		t.Fatal(err)
	}
	b, err := StartWith(dir, opts)
	if err != nil {
		os.RemoveAll(dir)
		t.Fatal(err)
	}
	t.Cleanup(func() {
		b.Kill()
		if t.Failed() {
			out, _ := os.ReadFile(filepath.Join(dir, "mosquitto.log"))
			t.Logf("mosquitto output:\n%s", out)
		}
		os.RemoveAll(dir)
	})
	return b
}

// Saved waits until a persistent broker has saved its database after
// since, so that what it held then survives a kill.
func (b *Broker) Saved(since time.Time) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		if st, err := os.Stat(filepath.Join(b.dir, "mosquitto.db")); err == nil && st.ModTime().After(since) {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("mosquitto did not save its database")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// URL is the broker's mqtt:// address.
func (b *Broker) URL() string { return "mqtt://" + b.Address() }

// Address is host:port.
func (b *Broker) Address() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(b.port)) }

// PID is the process id of the running broker, or 0.
func (b *Broker) PID() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd == nil || b.cmd.Process == nil {
		return 0
	}
	return b.cmd.Process.Pid
}

// Kill stops the broker at once (SIGKILL) and waits for it to exit.
func (b *Broker) Kill() {
	b.mu.Lock()
	cmd, done := b.cmd, b.done
	b.cmd = nil
	b.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-done
}

// Restart starts the broker again on the same port and waits until it
// accepts connections.
func (b *Broker) Restart() error {
	b.Kill()
	cmd := exec.Command(b.bin, "-c", filepath.Join(b.dir, "mosquitto.conf"))
	log, err := os.OpenFile(filepath.Join(b.dir, "mosquitto.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("start mosquitto: %w", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		log.Close()
		close(done)
	}()
	b.mu.Lock()
	b.cmd, b.done = cmd, done
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		conn, err := net.DialTimeout("tcp", b.Address(), 200*time.Millisecond)
		if err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-done:
			out, _ := os.ReadFile(filepath.Join(b.dir, "mosquitto.log"))
			return fmt.Errorf("mosquitto exited at start: %s", out)
		case <-ctx.Done():
			return fmt.Errorf("mosquitto did not accept connections on %s", b.Address())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
