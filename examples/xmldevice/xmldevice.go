// Package xmldevice is a building controller's air handling unit served
// over oBIX 1.0 (XML), as a Go HTTP handler, with the device and asset
// files that make http-connector read its points with format xml and jq,
// and publish its active alarms when they change.
//
// Taken from oBIX 1.0 (OASIS, 2006), the XML web service building
// controllers serve: every document is in the namespace
// http://obix.org/ns/schema/1.0; an object is an <obj> whose children are
// values named by their name attribute, each element a type (<real>,
// <int>, <bool>, <enum>, <str>, <abstime>, <list>), the value in its val
// attribute, a unit as a URI in unit (obix:units/celsius), the point's
// state in status (ok, alarm, fault, …) and its text for people in
// display; href is an object's URI, relative to its parent's; is names
// its contracts; xsi:schemaLocation points at the schema; Content-Type is
// text/xml.
//
// Assumed, and simplified: one controller object, /obix/ahu1/, that holds
// its points and its active alarms (a list of obix:Alarm objects, each
// with its source, text and time), where a real server such as Niagara's
// serves points as refs to read one by one or in a batch and alarms from
// an alarm service; its values change only when told (Set…, Raise,
// Clear), so that a test knows what it served; nothing is writable over
// HTTP.
package xmldevice

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// State is what the unit's points read.
type State struct {
	SupplyAirTemp  float64 // °C
	ReturnAirTemp  float64 // °C
	OutsideAirTemp float64 // °C
	FanSpeed       float64 // %
	FanOn          bool
	Mode           string // off, heating, cooling, economizer
	FilterHours    int    // hours since the filter was changed
}

// Alarm is an active alarm of the unit.
type Alarm struct {
	ID     int
	Source string // the point in alarm
	Text   string
	Since  time.Time
}

// Unit is a simulated air handling unit.
type Unit struct {
	mu       sync.Mutex
	state    State
	alarms   []Alarm
	nextID   int
	requests int
}

// New returns a unit running as in spring: cooling, fan on, no alarm.
func New() *Unit {
	return &Unit{state: State{SupplyAirTemp: 13.5, ReturnAirTemp: 22.8, OutsideAirTemp: 17.25, FanSpeed: 74, FanOn: true, Mode: "cooling", FilterHours: 1210}, nextID: 1}
}

// Set changes what the points read.
func (u *Unit) Set(s State) {
	u.mu.Lock()
	u.state = s
	u.mu.Unlock()
}

// State is what the points read now.
func (u *Unit) State() State {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.state
}

// Raise makes an alarm active and returns it.
func (u *Unit) Raise(source, text string, since time.Time) Alarm {
	u.mu.Lock()
	defer u.mu.Unlock()
	a := Alarm{ID: u.nextID, Source: source, Text: text, Since: since.UTC()}
	u.nextID++
	u.alarms = append(u.alarms, a)
	return a
}

// Clear acknowledges the alarm id: it is no longer active.
func (u *Unit) Clear(id int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.alarms = slices.DeleteFunc(u.alarms, func(a Alarm) bool { return a.ID == id })
}

// Requests is how many documents were served.
func (u *Unit) Requests() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.requests
}

// Handler serves the unit:
//
//	GET /obix/ahu1/  <obj href="…/obix/ahu1/" is="…" xmlns="http://obix.org/ns/schema/1.0" …>
//	                   <real name="supplyAirTemp" href="supplyAirTemp/" val="13.5" unit="obix:units/celsius" status="ok" display="13.5 °C"/>
//	                   …
//	                   <list name="activeAlarms" href="activeAlarms/" of="obix:Alarm"> <obj is="obix:Alarm"> … </obj> </list>
//	                 </obj>
func (u *Unit) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /obix/ahu1/{$}", func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.requests++
		doc := document(base(r)+"/obix/ahu1/", u.state, u.alarms)
		u.mu.Unlock()
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		_, _ = w.Write([]byte(doc))
	})
	mux.HandleFunc("/obix/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<err is="obix:BadUriErr" href="%s" display="no object at %s" xmlns="http://obix.org/ns/schema/1.0"/>`+"\n", xmlText(r.URL.Path), xmlText(r.URL.Path))
	})
	return mux
}

// document is the unit's object at href.
func document(href string, s State, alarms []Alarm) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<?xml-stylesheet type="text/xsl" href="/obix/xsl"?>` + "\n")
	fmt.Fprintf(&b, `<obj href="%s" is="/obix/def/hvac:AirHandlingUnit obix:Point" display="AHU 1, level 3" `+
		`xmlns="http://obix.org/ns/schema/1.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" `+
		`xsi:schemaLocation="http://obix.org/ns/schema/1.0 /obix/xsd">`+"\n", xmlText(href))
	point := func(name string, v float64, unit, symbol string) {
		text := strconv.FormatFloat(v, 'f', -1, 64)
		fmt.Fprintf(&b, `  <real name="%s" href="%s/" val="%s" unit="obix:units/%s" status="%s" display="%s %s"/>`+"\n", name, name, text, unit, status(name, alarms), text, symbol)
	}
	point("supplyAirTemp", s.SupplyAirTemp, "celsius", "°C")
	point("returnAirTemp", s.ReturnAirTemp, "celsius", "°C")
	point("outsideAirTemp", s.OutsideAirTemp, "celsius", "°C")
	point("supplyFanSpeed", s.FanSpeed, "percent", "%")
	fmt.Fprintf(&b, `  <bool name="supplyFan" href="supplyFan/" val="%t" status="%s" display="%s"/>`+"\n", s.FanOn, status("supplyFan", alarms), onOff(s.FanOn))
	fmt.Fprintf(&b, `  <enum name="mode" href="mode/" val="%s" range="/obix/def/hvac:ModeRange" display="%s"/>`+"\n", xmlText(s.Mode), xmlText(s.Mode))
	fmt.Fprintf(&b, `  <int name="filterHours" href="filterHours/" val="%d" unit="obix:units/hour" display="%d h"/>`+"\n", s.FilterHours, s.FilterHours)
	b.WriteString(`  <list name="activeAlarms" href="activeAlarms/" of="obix:Alarm">` + "\n")
	for _, a := range alarms {
		fmt.Fprintf(&b, `    <obj href="/obix/alarms/%d/" is="obix:Alarm obix:AckAlarm">`+"\n", a.ID)
		fmt.Fprintf(&b, `      <ref name="source" href="/obix/ahu1/%s/" display="%s"/>`+"\n", xmlText(a.Source), xmlText(a.Source))
		fmt.Fprintf(&b, `      <abstime name="timestamp" val="%s"/>`+"\n", a.Since.Format(time.RFC3339))
		fmt.Fprintf(&b, `      <str name="text" val="%s"/>`+"\n", xmlText(a.Text))
		b.WriteString("    </obj>\n")
	}
	b.WriteString("  </list>\n</obj>\n")
	return b.String()
}

// status is a point's oBIX status: alarm while an alarm names it.
func status(point string, alarms []Alarm) string {
	for _, a := range alarms {
		if a.Source == point {
			return "alarm"
		}
	}
	return "ok"
}

func onOff(on bool) string {
	if on {
		return "On"
	}
	return "Off"
}

// xmlText escapes s for an attribute or text.
func xmlText(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;").Replace(s)
}

// base is the server's root URL as the client addressed it.
func base(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
