package akri_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/examples/thermostat"
	"github.com/http-connector/http-connector/internal/adr"
	"github.com/http-connector/http-connector/internal/aiorpc"
	"github.com/http-connector/http-connector/internal/testing/mqtttest"
	"github.com/http-connector/http-connector/internal/testing/wait"
)

// recording keeps the requests a device got.
type recording struct {
	next http.Handler
	seen chan string
}

func (r *recording) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodGet {
		select {
		case r.seen <- req.Method + " " + req.URL.Path:
		default:
		}
	}
	r.next.ServeHTTP(w, req)
}

// A management action is an RPC command on its topic: a caller invokes it
// over MQTT as any AIO client would, the device gets the HTTP request the
// action declares, the caller gets the reply; the action is in the asset
// status with its schemas, and its health is reported.
func TestAkriManagementAction(t *testing.T) {
	asset := thermostatAsset(1, "plant/thermostat-1", "GET")
	timeout := int64(5)
	asset.ManagementGroups = []adr.ManagementGroup{{
		Name: "control", DefaultTopic: "plant/thermostat-1/actions/{commandName}",
		Actions: []adr.ManagementAction{
			{Name: "setDesired", ActionType: adr.ActionCall, TargetURI: "/api/thermostat/desired", TimeoutInSeconds: &timeout,
				ActionConfiguration: `{"body": "{desiredTemperature: .value}", "response": "{accepted: ($status == 200), desired: .desiredTemperature}"}`},
			{Name: "broken", ActionType: adr.ActionCall, TargetURI: "/x", ActionConfiguration: `{"body": ".value |"}`},
		},
	}}
	dev := &recording{next: thermostat.New(3).Handler(), seen: make(chan string, 10)}
	h := startHarnessWith(t, map[string]adr.Asset{"thermostat-1": asset}, "thermostat-1\n", setup{handler: dev})
	wait.For(t, "the action in the asset status", func() bool {
		s, ok := h.fake.AssetStatus("thermostat-1")
		return ok && len(s.ManagementGroups) == 1 && len(s.ManagementGroups[0].Actions) == 2
	})
	st, _ := h.fake.AssetStatus("thermostat-1")
	if a := st.ManagementGroups[0].Actions[1]; a.Name != "broken" || a.Error == nil || !strings.Contains(a.Error.Message, "jq syntax error") {
		t.Errorf("the broken action's status: %+v", a)
	}

	caller := mqtttest.Connect(t, h.broker.URL(), "caller")
	inv := aiorpc.NewInvoker(caller, "caller", aiorpc.NewClock(), zerolog.Nop())
	if err := inv.Prepare(context.Background(), aiorpc.ResponseTopic("caller", "plant/thermostat-1/actions/control::setDesired")); err != nil {
		t.Fatal(err)
	}
	var resp aiorpc.Response
	wait.Until(t, "the action's reply", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		var err error
		resp, err = inv.Invoke(ctx, "plant/thermostat-1/actions/control::setDesired", []byte(`{"value": 68.5}`), true, 3*time.Second)
		return err
	})
	var reply map[string]any
	if err := json.Unmarshal(resp.Payload, &reply); err != nil || reply["accepted"] != true || reply["desired"] != 68.5 {
		t.Errorf("reply %s (%v)", resp.Payload, err)
	}
	select {
	case got := <-dev.seen:
		if got != "POST /api/thermostat/desired" {
			t.Errorf("the device got %s", got)
		}
	default:
		t.Error("the device got no request")
	}
	// The device refuses: the caller gets an application error with its
	// status, not a failed call.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	refused, err := inv.Invoke(ctx, "plant/thermostat-1/actions/control::setDesired", []byte(`{"value": 200}`), true, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if ae, ok := refused.ApplicationError(); !ok || ae.Code != "400" || !strings.Contains(ae.Payload, "between 50 and 90") {
		t.Errorf("a refused call: %+v (%v)", ae, ok)
	}
	wait.For(t, "the action's schemas in the status", func() bool {
		s, _ := h.fake.AssetStatus("thermostat-1")
		a := s.ManagementGroups[0].Actions[0]
		return a.RequestMessageSchemaReference != nil && a.ResponseMessageSchemaReference != nil
	})
	wait.For(t, "the action's health", func() bool {
		for _, r := range h.fake.Health() {
			if r.Name == "managementActionRuntimeHealthEvent" && strings.Contains(string(r.Payload), `"setDesired"`) && strings.Contains(string(r.Payload), `"Available"`) {
				return true
			}
		}
		return false
	})
	if v := h.fake.Violations(); len(v) > 0 {
		t.Errorf("protocol violations: %v", v)
	}
}
