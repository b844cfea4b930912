package aiorpc_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/http-connector/http-connector/internal/aiorpc"
	"github.com/http-connector/http-connector/internal/mqttclient"
	"github.com/http-connector/http-connector/internal/testing/mqtttest"
)

func TestInvokeRequestRaw(t *testing.T) {
	b := mqtttest.Embedded(t)
	ex := newExecutor(t, b, "svc/+/cmd", func(int, mqttclient.Message) *mqttclient.Message {
		return reply("+OK\r\n", "__stat", "200")
	})
	inv := newInvoker(t, b, "conn-8", "clients/conn-8/svc/+/cmd")
	raw := []byte("*2\r\n$3\r\nGET\r\n$4\r\n\x00\r\n\xff\r\n")

	resp, err := inv.InvokeRequest(context.Background(), "svc/raw/cmd", aiorpc.Request{
		Payload:        raw,
		UserProperties: []mqttclient.UserProperty{{Key: "__ft", Value: "001753180800123:00000:n"}, {Key: "x", Value: ""}},
		Timeout:        2500 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != 200 || string(resp.Payload) != "+OK\r\n" {
		t.Errorf("response %d %q, want 200 +OK", resp.Status, resp.Payload)
	}
	reqs := ex.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	got := reqs[0]
	if !bytes.Equal(got.Payload, raw) {
		t.Errorf("payload %q, want %q", got.Payload, raw)
	}
	if got.ContentType != "" || got.UTF8Payload {
		t.Errorf("content type %q, payload format indicator %v; want neither", got.ContentType, got.UTF8Payload)
	}
	if got.MessageExpiry != 3 || got.QoS != 1 || len(got.CorrelationData) != 16 || got.ResponseTopic != "clients/conn-8/svc/raw/cmd" {
		t.Errorf("expiry %d qos %d correlation %x response topic %q", got.MessageExpiry, got.QoS, got.CorrelationData, got.ResponseTopic)
	}
	var keys []string
	for _, p := range got.UserProperties {
		keys = append(keys, p.Key)
	}
	if want := "__protVer,__srcId,__ts,$partition,$high_priority,__invId,__ft,x"; strings.Join(keys, ",") != want {
		t.Errorf("user properties %s, want %s", strings.Join(keys, ","), want)
	}
	if v, _ := got.Property("__ft"); v != "001753180800123:00000:n" {
		t.Errorf("__ft = %q", v)
	}
}

func TestInvokeRequestRefusesOwnProperties(t *testing.T) {
	b := mqtttest.Embedded(t)
	ex := newExecutor(t, b, "svc/+/cmd", func(int, mqttclient.Message) *mqttclient.Message {
		return reply("", "__stat", "200")
	})
	inv := newInvoker(t, b, "conn-9", "clients/conn-9/svc/+/cmd")
	for _, key := range []string{"__ts", "__srcId", "$partition"} {
		t.Run(key, func(t *testing.T) {
			_, err := inv.InvokeRequest(context.Background(), "svc/x/cmd", aiorpc.Request{
				UserProperties: []mqttclient.UserProperty{{Key: key, Value: "v"}},
			})
			want := "invoke svc/x/cmd: user property " + key + " is set by the invoker"
			if err == nil || err.Error() != want {
				t.Errorf("error %v, want %q", err, want)
			}
		})
	}
	if n := len(ex.requests()); n != 0 {
		t.Errorf("%d requests sent, want none", n)
	}
}
