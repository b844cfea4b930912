package xmldevice

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/http-connector/http-connector/internal/testing/mqtttest"
	"github.com/http-connector/http-connector/internal/testing/wait"
)

const obixNS = "http://obix.org/ns/schema/1.0"

// The document is well-formed oBIX: every element in the oBIX namespace,
// the values in val attributes, the alarms in their list.
func TestDocument(t *testing.T) {
	u := New()
	u.Raise("supplyAirTemp", `too warm & "rising"`, time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC))
	srv := httptest.NewServer(u.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/obix/ahu1/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/xml; charset=utf-8" {
		t.Fatalf("GET /obix/ahu1/: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	vals := map[string]string{}
	var alarmTexts []string
	dec := xml.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not XML: %v\n%s", err, body)
		}
		el, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if el.Name.Space != obixNS {
			t.Errorf("<%s> in namespace %q, want %s", el.Name.Local, el.Name.Space, obixNS)
		}
		attrs := map[string]string{}
		for _, a := range el.Attr {
			attrs[a.Name.Local] = a.Value
		}
		if el.Name.Local == "str" {
			alarmTexts = append(alarmTexts, attrs["val"])
		} else if v, ok := attrs["val"]; ok && attrs["name"] != "" {
			vals[attrs["name"]] = v
		}
	}
	want := map[string]string{"supplyAirTemp": "13.5", "returnAirTemp": "22.8", "outsideAirTemp": "17.25", "supplyFanSpeed": "74",
		"supplyFan": "true", "mode": "cooling", "filterHours": "1210", "timestamp": "2025-06-01T12:00:00Z"}
	if !reflect.DeepEqual(vals, want) || len(alarmTexts) != 1 || alarmTexts[0] != `too warm & "rising"` {
		t.Errorf("vals %v, alarm texts %q\nwant %v", vals, alarmTexts, want)
	}
	if resp, err := http.Get(srv.URL + "/obix/ahu2/"); err != nil || resp.StatusCode != 404 {
		t.Errorf("GET /obix/ahu2/: %v %v, want 404", resp, err)
	}
}

// statusMessage is what the ahu1_status dataset publishes for s, with the
// points in alarm.
func statusMessage(s State, inAlarm ...string) string {
	if inAlarm == nil {
		inAlarm = []string{}
	}
	b, _ := json.Marshal(inAlarm)
	return fmt.Sprintf(`{"supplyAirTemp":%v,"returnAirTemp":%v,"outsideAirTemp":%v,"supplyFanSpeed":%v,"supplyFan":%t,"mode":%q,"filterHours":%d,"pointsInAlarm":%s}`,
		s.SupplyAirTemp, s.ReturnAirTemp, s.OutsideAirTemp, s.FanSpeed, s.FanOn, s.Mode, s.FilterHours, b)
}

// The example's configuration against the unit: the status message holds
// the points' values, numbers as numbers, the fan a boolean; the alarms
// dataset publishes the active alarms once for each change, and nothing
// while they stay as they are.
func TestPointsAndAlarms(t *testing.T) {
	u := New()
	srv := httptest.NewServer(u.Handler())
	defer srv.Close()
	broker := mqtttest.Embedded(t)
	inbox := mqtttest.Subscribe(t, broker.Connect(t, "subscriber"), "building/#")
	dir := writeConfig(t, strings.TrimPrefix(srv.URL, "http://"), `"samplingInterval": 5000`, `"samplingInterval": 100`)
	run := startConnector(t, dir, broker.URL(), nil)

	spring := u.State()
	waitPayload(t, inbox, "building/level3/ahu1/status", statusMessage(spring))
	checkNumbers(t, inbox.On("building/level3/ahu1/status")[0].Payload)
	unit := `"unit":"http://` + strings.TrimPrefix(srv.URL, "http://") + `/obix/ahu1/"`
	waitPayload(t, inbox, "building/level3/ahu1/alarms", `{"alarms":[],"count":0,`+unit+`}`)

	summer := State{SupplyAirTemp: 19.5, ReturnAirTemp: 26.05, OutsideAirTemp: 31, FanSpeed: 100, FanOn: false, Mode: "economizer", FilterHours: 1211}
	u.Set(summer)
	at := time.Date(2025, 7, 1, 14, 0, 0, 0, time.UTC)
	hot := u.Raise("supplyAirTemp", "supply air above 18 °C & rising", at)
	waitPayload(t, inbox, "building/level3/ahu1/status", statusMessage(summer, "supplyAirTemp"))
	hotJSON := `{"id":"/obix/alarms/1/","since":"2025-07-01T14:00:00Z","source":"supplyAirTemp","text":"supply air above 18 °C & rising"}`
	waitPayload(t, inbox, "building/level3/ahu1/alarms", `{"alarms":[`+hotJSON+`],"count":1,`+unit+`}`)
	fan := u.Raise("supplyFan", "fan commanded on, not running", at.Add(time.Minute))
	fanJSON := `{"id":"/obix/alarms/2/","since":"2025-07-01T14:01:00Z","source":"supplyFan","text":"fan commanded on, not running"}`
	waitPayload(t, inbox, "building/level3/ahu1/alarms", `{"alarms":[`+hotJSON+","+fanJSON+`],"count":2,`+unit+`}`)
	u.Clear(hot.ID)
	waitPayload(t, inbox, "building/level3/ahu1/alarms", `{"alarms":[`+fanJSON+`],"count":1,`+unit+`}`)
	u.Clear(fan.ID)
	waitPayload(t, inbox, "building/level3/ahu1/alarms", `{"alarms":[],"count":0,`+unit+`}`)
	// Ten more requests, five samples of each dataset: no alarm message.
	n := u.Requests()
	wait.For(t, "ten more requests", func() bool { return u.Requests() >= n+10 })
	run.Stop(t)

	if got := len(inbox.On("building/level3/ahu1/alarms")); got != 5 {
		t.Errorf("%d alarm messages, want one per change: 5", got)
	}
	// Every sample published, was suppressed, or was cut short by the stop
	// (at most one per dataset); the alarm samples of the ten requests
	// after the last change were suppressed.
	stopped := run.Record(t, "stopped")
	samples, _ := stopped["samples"].(float64)
	messages, _ := stopped["messages"].(float64)
	suppressed, _ := stopped["suppressed_samples"].(float64)
	if cut := samples - messages - suppressed; cut < 0 || cut > 2 || suppressed < 4 || stopped["failed_samples"] != 0.0 {
		t.Errorf("stopped: %v; want the alarm samples after the last change suppressed, none failed", stopped)
	}
	// A dashboard that subscribes later is given the alarms as they are.
	late := mqtttest.Subscribe(t, broker.Connect(t, "dashboard"), "building/level3/ahu1/alarms")
	if m := late.Wait(t, 1)[0]; !m.Retain || string(m.Payload) != `{"alarms":[],"count":0,`+unit+`}` {
		t.Errorf("retained: %s (retain %v), want no alarm", m.Payload, m.Retain)
	}
}

// waitPayload waits for a message of topic with the payload want.
func waitPayload(t *testing.T, inbox *mqtttest.Inbox, topic, want string) {
	t.Helper()
	wait.Until(t, "message "+want+" on "+topic, func() error {
		msgs := inbox.On(topic)
		for _, m := range msgs {
			if string(m.Payload) == want {
				return nil
			}
		}
		if len(msgs) == 0 {
			return fmt.Errorf("no message")
		}
		return fmt.Errorf("the last is %s", msgs[len(msgs)-1].Payload)
	})
}

// checkNumbers checks that the numbers of a status message are JSON
// numbers, the fan a boolean and the mode a string.
func checkNumbers(t *testing.T, payload []byte) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"supplyAirTemp", "returnAirTemp", "outsideAirTemp", "supplyFanSpeed", "filterHours"} {
		if _, ok := m[k].(json.Number); !ok {
			t.Errorf("%s is %T (%v), want a number", k, m[k], m[k])
		}
	}
	if _, ok := m["supplyFan"].(bool); !ok {
		t.Errorf("supplyFan is %T, want a boolean", m["supplyFan"])
	}
	if _, ok := m["mode"].(string); !ok {
		t.Errorf("mode is %T, want a string", m["mode"])
	}
}
