package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/http-connector/http-connector/internal/testing/logbuf"
)

// The README's first command prints the walkthrough's messages.
func TestDemoPrintsThermostatMessages(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out, errs logbuf.Buffer
	done := make(chan int, 1)
	go func() {
		// Port 0 addresses: the demo must not depend on 1883 or 3000 being free.
		done <- run(ctx, []string{"demo", "--thermostat", "127.0.0.1:0"}, []string{"HTTP_CONNECTOR_EMBEDDED_BROKER=127.0.0.1:0"}, &out, &errs)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "\n") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != exitOK {
		t.Fatalf("demo exit %d\n%s", code, errs.String())
	}
	line, _, _ := strings.Cut(out.String(), "\n")
	topic, payload, _ := strings.Cut(line, " ")
	var msg struct {
		Current *float64 `json:"currentTemperature"`
		Desired *float64 `json:"desiredTemperature"`
	}
	if topic != "machine/thermostat1/status" || json.Unmarshal([]byte(payload), &msg) != nil || msg.Current == nil || msg.Desired == nil {
		t.Errorf("demo printed %q, want the thermostat message on machine/thermostat1/status\nlog:\n%s", line, errs.String())
	}
	if !strings.Contains(errs.String(), "no broker configured: started the embedded MQTT broker") {
		t.Errorf("log does not say the embedded broker started:\n%s", errs.String())
	}
}
